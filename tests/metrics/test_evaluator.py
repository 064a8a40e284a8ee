import logging
import math

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from fm4npp_geo.metrics import (
    TrackingEvaluator,
    adjusted_rand_index,
    double_majority,
    fm4npp_efficiency_purity,
    trackml_score,
)


def test_evaluator_pools_counts():
    evaluator = TrackingEvaluator()
    # Event A: one truth track found. Event B: one found, one missed.
    evaluator.update(np.array([0, 0, 0, 0]), np.array([1, 1, 1, 1]))
    evaluator.update(np.array([0, 0, 0, 0, 1, 2, 3]), np.array([1, 1, 1, 1, 2, 2, 2]))
    result = evaluator.compute()
    assert result["num_truth_tracks"] == 3
    assert result["num_found_tracks"] == 2
    assert result["efficiency"] == pytest.approx(2 / 3)
    assert result["efficiency_stderr"] == pytest.approx(math.sqrt(2 / 3 * 1 / 3 / 3))
    assert result["purity"] == 1.0
    assert result["num_events"] == 2
    assert result["dm_efficiency"] == pytest.approx(2 / 3)
    assert "trackml_score" not in result


def test_evaluator_matches_per_event_functions():
    rng = np.random.default_rng(3)
    evaluator = TrackingEvaluator()
    events = []
    for _ in range(6):
        size = int(rng.integers(20, 60))
        particle = rng.integers(0, 5, size)
        # Mostly the truth, with some hits moved to other tracks or unassigned.
        track = np.where(rng.random(size) < 0.8, particle, rng.integers(-1, 7, size))
        weight = rng.random(size)
        evaluator.update(track, particle, weight=weight)
        events.append((track, particle, weight))
    result = evaluator.compute()

    aris = [adjusted_rand_index(track, particle) for track, particle, _ in events]
    assert evaluator.ari_per_event == pytest.approx(aris, abs=1e-12)
    assert result["ari"] == pytest.approx(np.mean(aris), abs=1e-12)
    assert result["ari_stderr"] == pytest.approx(np.std(aris, ddof=1) / math.sqrt(6))
    scores = [trackml_score(track, particle, weight) for track, particle, weight in events]
    assert result["trackml_score"] == pytest.approx(np.mean(scores))

    for prefix, two_way in (("dm", True), ("one_way", False)):
        per_event = [double_majority(track, particle, two_way=two_way) for track, particle, _ in events]
        found = sum(item["num_found"] for item in per_event)
        reconstructable = sum(item["num_reconstructable"] for item in per_event)
        tracks = sum(item["num_tracks"] for item in per_event)
        matched = sum(item["num_matched_tracks"] for item in per_event)
        duplicates = sum(item["num_duplicate_tracks"] for item in per_event)
        assert result[f"{prefix}_efficiency"] == pytest.approx(found / reconstructable)
        assert result[f"{prefix}_fake_rate"] == pytest.approx((tracks - matched) / tracks)
        assert result[f"{prefix}_duplicate_rate"] == pytest.approx(duplicates / tracks)


def test_pooled_ari_is_one_clustering():
    evaluator = TrackingEvaluator()
    evaluator.update(np.array([0, 0, 1]), np.array([1, 1, 2]))
    evaluator.update(np.array([0, 1, 1]), np.array([1, 1, 1]))
    # Labels offset per event, then scored as one clustering of 6 hits.
    expected = adjusted_rand_index(np.array([0, 0, 1, 10, 11, 11]), np.array([1, 1, 2, 11, 11, 11]))
    assert evaluator.compute()["ari_pooled"] == pytest.approx(expected)


def test_evaluator_curves():
    evaluator = TrackingEvaluator()
    particle = np.array([1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3])
    track = np.array([0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 5, 5, 5])
    pt = np.array([0.5] * 4 + [2.0] * 3 + [3.0] * 6)
    evaluator.update(track, particle, pt, np.zeros(13))
    curve = evaluator.efficiency_curve("pt", [0.0, 1.0, 5.0])
    assert curve["rate"] == [1.0, 0.0]
    assert curve["count"] == [1, 2]
    # Tracks 4 and 5 each hold half of particle 3: two fakes at 3 GeV.
    fakes = evaluator.curve("dm_fake_rate", "pt", [0.0, 1.0, 5.0])
    assert fakes["count"] == [1, 2]
    assert fakes["rate"] == [0.0, 1.0]
    with pytest.raises(ValueError, match="'pt' or 'eta'"):
        evaluator.curve("efficiency", "phi", [0, 1])
    with pytest.raises(ValueError, match="metric must be one of"):
        evaluator.curve("speed", "pt", [0, 1])


def test_curves_need_kinematics():
    evaluator = TrackingEvaluator()
    evaluator.update(np.array([0, 0, 0]), np.array([1, 1, 1]))
    with pytest.raises(ValueError, match="curves need particle_pt and particle_eta"):
        evaluator.curve("efficiency", "pt", [0.0, 1.0])


def test_update_event_reads_table_and_weights():
    table = np.zeros((2, 13))
    table[:, 0] = [1, 2]
    table[:, 4] = [2.0, 0.5]  # px in GeV
    table[:, 12] = [4, 8]  # full-event hits; particle 2 has 4 hits outside these
    event = Data(
        pos=torch.tensor([[31.0 + i, 0.0, 0.0] for i in range(8)]),
        particle_id=torch.tensor([1, 1, 1, 1, 2, 2, 2, 2]),
        particles=torch.from_numpy(table),
        layer=torch.arange(8),
    )
    evaluator = TrackingEvaluator()
    evaluator.update_event(event, torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]))
    result = evaluator.compute()
    # Particle 2 keeps 4 of its 8 hits: exactly half, not found.
    assert result["efficiency"] == 0.5
    assert result["trackml_score"] == pytest.approx(1.0)
    assert evaluator.curve("dm_efficiency", "pt", [0.0, 1.0, 5.0])["rate"] == [0.0, 1.0]


def test_weights_for_some_events_rejected():
    evaluator = TrackingEvaluator()
    evaluator.update(np.array([0]), np.array([1]), weight=np.array([1.0]))
    with pytest.raises(ValueError, match="for every event or for none"):
        evaluator.update(np.array([0]), np.array([1]))


def test_empty_and_noise_only_events(caplog):
    evaluator = TrackingEvaluator()
    evaluator.update(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    evaluator.update(np.full(4, -1), np.zeros(4, dtype=np.int64))
    with caplog.at_level(logging.WARNING):
        result = evaluator.compute()
    assert not any(isinstance(value, float) and math.isnan(value) for value in result.values())
    assert result["efficiency"] == 0.0
    assert result["dm_efficiency"] == 0.0
    assert result["ari"] == pytest.approx(0.5)
    assert "no truth track in the events" in caplog.text


def test_per_event_and_pooled_efficiency_agree_on_one_event():
    particle = np.array([1] * 5 + [2] * 5 + [0] * 2)
    track = np.array([0] * 5 + [1] * 2 + [-1] * 5)
    evaluator = TrackingEvaluator()
    evaluator.update(track, particle)
    result = evaluator.compute()
    assert (result["efficiency"], result["purity"]) == fm4npp_efficiency_purity(track, particle)
