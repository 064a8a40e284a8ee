import math

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from fm4npp_geo.data import PARTICLE_COLUMNS
from fm4npp_geo.metrics import ParticleTruth, ReconstructableRule


def test_from_hits_counts_and_kinematics():
    truth = ParticleTruth.from_hits(
        particle_id=[2, 0, 2, 5, 5, 5],
        particle_pt=[1.5, 0.0, 1.5, 0.2, 0.2, 0.2],
        particle_eta=[0.1, 0.0, 0.1, -0.4, -0.4, -0.4],
        layer=[3, 0, 3, 1, 2, 3],
    )
    assert truth.particle_id.tolist() == [2, 5]
    assert truth.num_hits.tolist() == [2, 3]
    assert truth.pt.tolist() == [1.5, pytest.approx(0.2)]
    assert truth.eta.tolist() == [pytest.approx(0.1), pytest.approx(-0.4)]
    assert truth.num_layers.tolist() == [1, 3]


def test_from_table_kinematics():
    table = np.zeros((2, len(PARTICLE_COLUMNS)))
    columns = {name: index for index, name in enumerate(PARTICLE_COLUMNS)}
    table[:, columns["particle_id"]] = [2, 1]
    table[:, columns["px"]] = [3.0, 0.6]
    table[:, columns["py"]] = [4.0, 0.8]
    table[:, columns["pz"]] = [0.0, math.sinh(1.0)]
    table[:, columns["is_primary"]] = [0, 1]
    table[:, columns["num_hits"]] = [7, 9]
    truth = ParticleTruth.from_table(table)
    assert truth.particle_id.tolist() == [1, 2]
    assert truth.num_hits.tolist() == [9, 7]
    assert truth.pt.tolist() == pytest.approx([1.0, 5.0])
    assert truth.eta.tolist() == pytest.approx([1.0, 0.0])
    assert truth.is_primary.tolist() == [True, False]


def test_from_event_prefers_particle_table():
    table = np.zeros((1, len(PARTICLE_COLUMNS)))
    table[0, 0] = 1
    table[0, -1] = 40
    event = Data(particle_id=torch.tensor([1, 1, 0]), particles=torch.from_numpy(table), layer=torch.tensor([0, 4, 2]))
    truth = ParticleTruth.from_event(event)
    assert truth.num_hits.tolist() == [40]
    assert truth.num_layers.tolist() == [2]
    fallback = ParticleTruth.from_event(Data(particle_id=torch.tensor([1, 1, 0])))
    assert fallback.num_hits.tolist() == [2]


def test_rule_selects_each_cut():
    truth = ParticleTruth(
        particle_id=np.array([1, 2, 3, 4, 5]),
        num_hits=np.array([2, 5, 5, 5, 5]),
        pt=np.array([1.0, 1.0, 0.1, 1.0, 1.0]),
        eta=np.array([0.0, 0.0, 0.0, 1.5, 0.0]),
        is_primary=np.array([True, True, True, True, False]),
        num_layers=np.array([2, 5, 5, 5, 3]),
    )
    assert ReconstructableRule().select(truth).tolist() == [False, True, True, True, True]
    rule = ReconstructableRule(min_hits=3, min_pt=0.5, max_abs_eta=1.0, primary_only=True)
    assert rule.select(truth).tolist() == [False, True, False, False, False]
    assert ReconstructableRule(min_layers=4).select(truth).tolist() == [False, True, True, True, False]


def test_rule_rejects_bad_values():
    with pytest.raises(ValueError, match="min_hits must be a whole number >= 0, got -1"):
        ReconstructableRule(min_hits=-1)
    with pytest.raises(ValueError, match="min_pt must be >= 0 GeV"):
        ReconstructableRule(min_pt=-0.1)
    with pytest.raises(ValueError, match="needs distinct layers"):
        ReconstructableRule(min_layers=2).select(ParticleTruth.from_hits([1, 1]))
