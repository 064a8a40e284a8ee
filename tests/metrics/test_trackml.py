import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from fm4npp_geo.data import read_trackml_event
from fm4npp_geo.metrics import event_trackml_weights, trackml_score, trackml_weights
from fm4npp_geo.metrics.trackml import ORDER_PROPOSAL, ORDER_WEIGHTS, pt_weight

REPO_ROOT = Path(__file__).resolve().parents[2]
TRACKML_DIR = REPO_ROOT / ".." / "shared" / "data" / "trackml"
TRACKML_EVENT = TRACKML_DIR / "event000000001"


def test_score_by_hand():
    particle = np.array([1, 1, 1, 1, 2, 2, 0])
    weight = np.array([0.1, 0.2, 0.2, 0.1, 0.15, 0.15, 0.1])
    # Track 0: 3 of particle 1's 4 hits, pure -> good, weight 0.5.
    # Track 1: 2 of 4 hits from particle 2 is not more than half -> not good.
    track = np.array([0, 0, 0, 1, 1, 1, 1])
    assert trackml_score(track, particle, weight) == pytest.approx(0.5)
    # Splitting particle 1 in halves scores neither half. The lone noise hit is
    # a one-hit track holding all noise hits, so it scores its own weight, as
    # in the TrackML library; truth files give noise weight 0.
    assert trackml_score(np.array([0, 0, 2, 2, 1, 1, 3]), particle, weight) == pytest.approx(0.3 + 0.1)


def test_score_divides_by_total_weight():
    particle = np.array([1, 1, 1, 2, 2, 2])
    weight = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
    assert trackml_score(np.array([0, 0, 0, -1, -1, -1]), particle, weight) == pytest.approx(3 / 9)


def test_score_rejects_negative_weight():
    with pytest.raises(ValueError, match="finite and >= 0"):
        trackml_score(np.array([0, 0]), np.array([1, 1]), np.array([1.0, -1.0]))


def test_zero_weights_warn(caplog):
    with caplog.at_level(logging.WARNING):
        score = trackml_score(np.array([0, 0]), np.array([0, 0]), np.zeros(2))
    assert score == 0.0
    assert "TrackML score set to 0.0" in caplog.text


def test_order_weight_table():
    proposal = np.array(ORDER_PROPOSAL)
    assert ORDER_WEIGHTS[9, :9] == pytest.approx(proposal / proposal.sum())
    # Four hits sample the 9 proposal points at 0, 1, 2, 3 on a 0..3 scale:
    # 10, 6 - (0.25 / 0.375), 3 and 6.
    row = np.array([10.0, 6.0 - 0.25 / 0.375, 3.0, 6.0])
    assert ORDER_WEIGHTS[4, :4] == pytest.approx(row / row.sum())
    assert ORDER_WEIGHTS[3].sum() == 0.0
    assert ORDER_WEIGHTS[4:].sum(axis=1) == pytest.approx(np.ones(17))


def test_pt_weight():
    assert pt_weight(np.array([0.01, 0.3, 1.75, 5.0])).tolist() == pytest.approx([0.0, 0.2, 0.6, 1.0])


def test_weights_by_hand():
    # Particle 1: 4 hits given in reverse order along the track, 5 GeV.
    # Particle 2: 3 hits (too few). One noise hit.
    particle = np.array([1, 1, 1, 1, 2, 2, 2, 0])
    pt = np.array([5.0] * 4 + [1.0] * 3 + [0.0])
    order = np.array([4.0, 3.0, 2.0, 1.0, 1.0, 2.0, 3.0, 0.0])
    weight = trackml_weights(particle, pt, order)
    expected = ORDER_WEIGHTS[4, :4][::-1]
    assert weight[:4] == pytest.approx(expected / expected.sum())
    assert weight[4:].tolist() == [0.0] * 4
    assert weight.sum() == pytest.approx(1.0)


def test_long_particle_uses_twenty_hit_weights():
    particle = np.ones(25, dtype=np.int64)
    weight = trackml_weights(particle, np.full(25, 10.0), np.arange(25.0))
    assert weight[20:].tolist() == [0.0] * 5
    assert weight[:20] == pytest.approx(ORDER_WEIGHTS[20, :20])


def test_event_weights_prefer_truth_file_column():
    event = Data(particle_id=torch.tensor([1, 1]), weight=torch.tensor([0.25, 0.75]), num_nodes=2)
    assert event_trackml_weights(event).tolist() == [0.25, 0.75]
    computed = Data(
        particle_id=torch.tensor([1, 1, 1, 1]),
        particle_pt=torch.full((4,), 2.0),
        pos=torch.tensor([[40.0, 0, 0], [30.0, 0, 0], [50.0, 0, 0], [60.0, 0, 0]]),
    )
    weight = event_trackml_weights(computed)
    # Ranked by distance from the origin: hit 1 first, then 0, 2, 3.
    assert weight[[1, 0, 2, 3]] == pytest.approx(ORDER_WEIGHTS[4, :4])


@pytest.mark.skipif(not (TRACKML_DIR / "event000000001-hits.csv.gz").exists(), reason="shared TrackML event missing")
def test_shared_trackml_event_perfect_and_single_track():
    event = read_trackml_event(TRACKML_EVENT)
    assert trackml_score(event.particle_id, event.particle_id, event.weight) == pytest.approx(1.0, abs=1e-6)
    one_track = torch.zeros_like(event.particle_id)
    assert trackml_score(one_track, event.particle_id, event.weight) == 0.0
    # Leaving every hit unassigned scores exactly the particles with one hit.
    particle, weight = event.particle_id.numpy(), event.weight.double().numpy()
    ids, counts = np.unique(particle, return_counts=True)
    single = np.isin(particle, ids[counts == 1]) & (particle != 0)
    unassigned = trackml_score(torch.full_like(event.particle_id, -1), event.particle_id, event.weight)
    assert unassigned == pytest.approx(weight[single].sum() / weight.sum())
