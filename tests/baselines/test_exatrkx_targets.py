import pytest
import torch
from torch_geometric.data import Data

from baselines.exatrkx import TargetRule


def _event() -> Data:
    # Particle 1: pT 0.5 GeV, primary, layers 0, 1, 2.
    # Particle 2: pT 0.1 GeV, primary, 4 hits.
    # Particle 3: pT 2 GeV, secondary, 3 hits.
    # Particle 4: pT 1 GeV, primary, 3 hits on 2 distinct layers.
    # Particle 5: pT 1 GeV, primary, 2 hits. Two noise hits.
    particle_id = torch.tensor([1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 0, 0])
    pt = {0: 0.0, 1: 0.5, 2: 0.1, 3: 2.0, 4: 1.0, 5: 1.0}
    primary = {0: False, 1: True, 2: True, 3: False, 4: True, 5: True}
    layer = torch.tensor([0, 1, 2, 0, 1, 2, 3, 4, 5, 6, 5, 5, 6, 1, 2, 3, 4])
    return Data(
        particle_id=particle_id,
        particle_pt=torch.tensor([pt[p] for p in particle_id.tolist()]),
        is_primary=torch.tensor([primary[p] for p in particle_id.tolist()]),
        layer=layer,
    )


def _target_particles(rule: TargetRule) -> list[int]:
    event = _event()
    return event.particle_id[rule.hit_mask(event)].unique().tolist()


def test_target_rule_default_needs_three_hits():
    assert _target_particles(TargetRule()) == [1, 2, 3, 4]


def test_target_rule_cuts():
    assert _target_particles(TargetRule(min_pt=0.2)) == [1, 3, 4]
    assert _target_particles(TargetRule(primary_only=True)) == [1, 2, 4]
    assert _target_particles(TargetRule(min_layers=3)) == [1, 2, 3]
    assert _target_particles(TargetRule(min_hits=2)) == [1, 2, 3, 4, 5]


def test_target_rule_noise_never_a_target():
    event = _event()
    mask = TargetRule(min_hits=1).hit_mask(event)
    assert not mask[event.particle_id == 0].any()


def test_target_rule_missing_attribute():
    event = Data(particle_id=torch.tensor([1, 1, 1]))
    assert TargetRule().hit_mask(event).tolist() == [True, True, True]
    with pytest.raises(ValueError, match="'min_pt' cut needs the per-hit attribute 'particle_pt'"):
        TargetRule(min_pt=1.0).hit_mask(event)


def test_target_rule_empty_event():
    event = Data(particle_id=torch.empty(0, dtype=torch.long), particle_pt=torch.empty(0))
    assert TargetRule(min_pt=1.0).hit_mask(event).shape == (0,)


def test_target_rule_invalid():
    with pytest.raises(ValueError, match="min_hits >= 1"):
        TargetRule(min_hits=0)
