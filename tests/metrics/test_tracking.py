import numpy as np
import pytest
import torch

from fm4npp_geo.metrics import (
    TrackingEvaluator,
    adjusted_rand_index,
    fm4npp_efficiency_purity,
    match_tracks,
)


def test_perfect_assignment():
    particle = torch.tensor([1, 1, 1, 1, 2, 2, 2, 2, 0, 0])
    track = torch.tensor([5, 5, 5, 5, 7, 7, 7, 7, -1, -1])
    efficiency, purity = fm4npp_efficiency_purity(track, particle)
    assert efficiency == 1.0
    assert purity == 1.0
    assert adjusted_rand_index(track, particle) == pytest.approx(1.0)


def test_track_with_exactly_half_is_not_matched():
    # Particle 1 has 8 hits; the predicted track contains 4 of them (50%, not > 50%).
    particle = np.array([1] * 8 + [2] * 4)
    track = np.array([0] * 4 + [1] * 4 + [2] * 4)
    match = match_tracks(track, particle)
    assert match.truth_particle.tolist() == [1, 2]
    assert match.truth_found.tolist() == [False, True]


def test_small_tracks_and_particles_ignored():
    # Particle 3 has 2 hits: not a truth track. Track 9 has 3 hits: too small.
    particle = np.array([1, 1, 1, 1, 3, 3, 2, 2, 2])
    track = np.array([0, 0, 0, 0, 4, 4, 9, 9, 9])
    match = match_tracks(track, particle)
    assert match.truth_particle.tolist() == [1, 2]
    assert match.truth_found.tolist() == [True, False]
    assert match.num_tracks == 1


def test_purity_is_mean_majority_fraction():
    # Track 0: 4 of particle 1 + 1 of particle 2 -> 0.8. Track 1: 3 of 2 + 1 noise -> 0.75.
    particle = np.array([1, 1, 1, 1, 2, 2, 2, 2, 0])
    track = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1])
    efficiency, purity = fm4npp_efficiency_purity(track, particle)
    assert efficiency == 1.0
    assert purity == pytest.approx((0.8 + 0.75) / 2)


def test_majority_tie_goes_to_smaller_id():
    # Track of 4 hits: 2 of particle 2 and 2 of particle 1 -> majority particle 1.
    # Particle 1 has 3 hits in the event, so 2 > 1.5 and it is found; 2 is not.
    particle = np.array([2, 2, 1, 1, 1, 2, 2])
    track = np.array([0, 0, 0, 0, 1, 2, 3])
    match = match_tracks(track, particle)
    assert match.truth_found.tolist() == [True, False]
    assert match.track_majority_fraction.tolist() == [0.5]


def test_noise_majority_never_matches():
    particle = np.array([0, 0, 0, 1, 1, 1])
    track = np.array([0, 0, 0, 0, 1, 1])
    match = match_tracks(track, particle)
    assert match.truth_found.tolist() == [False]


def test_two_tracks_one_particle_counts_once():
    particle = np.array([1] * 10)
    track = np.array([0] * 6 + [1] * 4)
    match = match_tracks(track, particle)
    assert match.num_found == 1
    assert match.num_tracks == 2


def test_negative_label_rejected():
    with pytest.raises(ValueError, match="label -2 is negative"):
        match_tracks(np.array([0, -2, 0]), np.array([1, 1, 1]))


def test_length_mismatch_rejected():
    with pytest.raises(ValueError, match="'track_id' has 2 hits but 'particle_id' has 3"):
        adjusted_rand_index(np.array([0, 1]), np.array([1, 1, 2]))


def test_float_labels_rejected():
    with pytest.raises(ValueError, match="integer labels"):
        adjusted_rand_index(np.array([0.0, 1.0]), np.array([1, 2]))


def test_ari_noise_is_one_cluster():
    particle = np.array([0, 0, 1, 1])
    # Predicting the two noise hits as one unassigned cluster is perfect.
    assert adjusted_rand_index(np.array([-1, -1, 3, 3]), particle) == pytest.approx(1.0)
    # Splitting them is not.
    assert adjusted_rand_index(np.array([1, 2, 3, 3]), particle) < 1.0


def test_empty_event_metrics_defined():
    empty = np.zeros(0, dtype=np.int64)
    efficiency, purity = fm4npp_efficiency_purity(empty, empty)
    assert efficiency == 0.0
    assert purity == 0.0
    assert adjusted_rand_index(empty, empty) == 1.0


def test_evaluator_pools_counts():
    evaluator = TrackingEvaluator()
    # Event A: one truth track found. Event B: one found, one missed.
    evaluator.update(np.array([0, 0, 0, 0]), np.array([1, 1, 1, 1]))
    evaluator.update(np.array([0, 0, 0, 0, 1, 2, 3]), np.array([1, 1, 1, 1, 2, 2, 2]))
    result = evaluator.compute()
    assert result["num_truth_tracks"] == 3
    assert result["num_found_tracks"] == 2
    assert result["efficiency"] == pytest.approx(2 / 3)
    assert result["purity"] == 1.0
    assert result["num_events"] == 2


def test_evaluator_efficiency_curve():
    evaluator = TrackingEvaluator()
    particle = np.array([1, 1, 1, 1, 2, 2, 2])
    track = np.array([0, 0, 0, 0, 1, 2, 3])
    pt = np.array([0.5] * 4 + [2.0] * 3)
    eta = np.zeros(7)
    evaluator.update(track, particle, pt, eta)
    curve = evaluator.efficiency_curve("pt", [0.0, 1.0, 5.0])
    assert curve["efficiency"] == [1.0, 0.0]
    assert curve["count"] == [1, 1]
    with pytest.raises(ValueError, match="'pt' or 'eta'"):
        evaluator.efficiency_curve("phi", [0, 1])
