import logging

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from fm4npp_geo.metrics import (
    ParticleTruth,
    adjusted_rand_index,
    fm4npp_efficiency_purity,
    match_tracks,
)


def particle_table(num_hits: dict[int, int]) -> np.ndarray:
    """A [P, 13] particle table with the given full-event hit totals, other columns 1."""
    table = np.ones((len(num_hits), 13))
    table[:, 0] = list(num_hits)
    table[:, 12] = list(num_hits.values())
    return table


def test_perfect_assignment():
    particle = torch.tensor([1, 1, 1, 1, 2, 2, 2, 2, 0, 0])
    track = torch.tensor([5, 5, 5, 5, 7, 7, 7, 7, 9, 9])
    efficiency, purity = fm4npp_efficiency_purity(track, particle)
    assert efficiency == 1.0
    assert purity == 1.0
    assert adjusted_rand_index(track, particle) == pytest.approx(1.0)


def test_unassigned_hits_are_singletons_in_ari():
    particle = np.array([1, 1, 1, 1, 2, 2, 2, 2, 0, 0])
    track = np.array([5, 5, 5, 5, 7, 7, 7, 7, -1, -1])
    # tp = 12 pairs, fp = 0, fn = 1 (the noise pair), tn = 45 - 13 = 32.
    expected = 2 * (12 * 32 - 0) / ((12 + 1) * (1 + 32) + (12 + 0) * (0 + 32))
    assert adjusted_rand_index(track, particle) == pytest.approx(expected, abs=1e-12)
    singletons = np.array([5, 5, 5, 5, 7, 7, 7, 7, 100, 101])
    assert adjusted_rand_index(track, particle) == pytest.approx(adjusted_rand_score(particle, singletons), abs=1e-12)


def test_custom_unassigned_marker():
    particle = np.array([1, 1, 1, 0, 0])
    track = np.array([3, 3, 3, -5, -5])
    assert adjusted_rand_index(track, particle, unassigned=-5) == pytest.approx(
        adjusted_rand_score(particle, [3, 3, 3, 10, 11]), abs=1e-12
    )
    with pytest.raises(ValueError, match="label -5 is negative"):
        adjusted_rand_index(track, particle)


def test_ari_matches_sklearn_on_random_labels():
    rng = np.random.default_rng(0)
    for size in (1, 2, 7, 300):
        particle = rng.integers(0, 6, size)
        track = rng.integers(-1, 9, size)
        singletons = np.where(track == -1, 1000 + np.arange(size), track)
        expected = adjusted_rand_score(particle, singletons)
        assert adjusted_rand_index(track, particle) == pytest.approx(expected, abs=1e-12)


def test_ari_with_trackml_sized_ids():
    particle = np.array([0, 4503668346847232, 4503668346847232, 22527608128856064, 22527608128856064])
    track = np.array([-1, 7, 7, 7, 2**40])
    expected = adjusted_rand_score(particle, [100, 7, 7, 7, 2**40])
    assert adjusted_rand_index(track, particle) == pytest.approx(expected, abs=1e-12)


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


def test_track_without_majority_finds_nothing():
    # Track 0 holds 2 hits each of particles 1, 2 and 3 (6 hits each in the event).
    particle = np.array([1, 1, 2, 2, 3, 3] + [1] * 4 + [2] * 4 + [3] * 4)
    track = np.array([0] * 6 + [-1] * 12)
    match = match_tracks(track, particle)
    assert match.truth_found.tolist() == [False, False, False]
    assert match.track_majority_fraction.tolist() == [pytest.approx(1 / 3)]


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


def test_hit_totals_come_from_full_event_truth():
    # Six hits of particle 1 are given; the full event has 10 (4 outside the subset).
    particle = np.array([1] * 6 + [2] * 4)
    track = np.array([0] * 6 + [1] * 4)
    table = particle_table({1: 10, 2: 4, 3: 7})
    match = match_tracks(track, particle, particles=table)
    # 6 > 10 / 2 finds particle 1; particle 3 has no given hit and stays missed.
    assert match.truth_particle.tolist() == [1, 2, 3]
    assert match.truth_num_hits.tolist() == [10, 4, 7]
    assert match.truth_found.tolist() == [True, True, False]

    # Five of 10 full-event hits are exactly half: not found, though all given hits are.
    subset = particle[1:]
    assert match_tracks(track[1:], subset, particles=table).truth_found.tolist() == [False, True, False]
    assert match_tracks(track[1:], subset).truth_found.tolist() == [True, True]

    truth = ParticleTruth.from_table(table)
    assert match_tracks(track, particle, particles=truth).truth_found.tolist() == [True, True, False]


def test_table_inconsistent_with_hits_rejected():
    particle = np.array([1, 1, 1, 5])
    track = np.array([0, 0, 0, 0])
    with pytest.raises(ValueError, match="hits of particle 5 found, but the particle table has no such"):
        match_tracks(track, particle, particles=particle_table({1: 3}))
    with pytest.raises(ValueError, match="particle 1 has 3 hits given but a full-event total of 2"):
        match_tracks(track[:3], particle[:3], particles=particle_table({1: 2}))
    with pytest.raises(ValueError, match=r"shape \[P, 13\]"):
        match_tracks(track, particle, particles=np.zeros((2, 4)))


def test_negative_label_rejected():
    with pytest.raises(ValueError, match="label -2 is negative"):
        match_tracks(np.array([0, -2, 0]), np.array([1, 1, 1]))


def test_negative_truth_rejected():
    with pytest.raises(ValueError, match="'particle_id' must be >= 0"):
        match_tracks(np.array([0, 0]), np.array([1, -1]))


def test_length_mismatch_rejected():
    with pytest.raises(ValueError, match="'track_id' has 2 hits but 'particle_id' has 3"):
        adjusted_rand_index(np.array([0, 1]), np.array([1, 1, 2]))


def test_float_labels_rejected():
    with pytest.raises(ValueError, match="integer labels"):
        adjusted_rand_index(np.array([0.0, 1.0]), np.array([1, 2]))


def test_ari_noise_is_one_cluster():
    particle = np.array([0, 0, 1, 1])
    # Predicting the two noise hits as one track is perfect.
    assert adjusted_rand_index(np.array([5, 5, 3, 3]), particle) == pytest.approx(1.0)
    # Splitting them is not.
    assert adjusted_rand_index(np.array([1, 2, 3, 3]), particle) < 1.0


def test_no_truth_tracks_warns_and_gives_zero(caplog):
    particle = np.array([1, 1, 2, 2, 0])
    track = np.array([0, 0, 0, 0, 0])
    with caplog.at_level(logging.WARNING, logger="fm4npp_geo.metrics.tracking"):
        efficiency, purity = fm4npp_efficiency_purity(track, particle)
    assert efficiency == 0.0
    assert purity == pytest.approx(0.4)
    assert "efficiency set to 0.0" in caplog.text


def test_noise_only_event_metrics_defined(caplog):
    particle = np.zeros(6, dtype=np.int64)
    with caplog.at_level(logging.WARNING, logger="fm4npp_geo.metrics.tracking"):
        efficiency, purity = fm4npp_efficiency_purity(np.zeros(6, dtype=np.int64), particle)
        unassigned = fm4npp_efficiency_purity(np.full(6, -1), particle)
    assert (efficiency, purity) == (0.0, 1.0)
    assert unassigned == (0.0, 0.0)
    assert "purity set to 0.0" in caplog.text
    assert adjusted_rand_index(np.zeros(6, dtype=np.int64), particle) == 1.0
    assert adjusted_rand_index(np.full(6, -1), particle) == 0.0


def test_empty_event_metrics_defined():
    empty = np.zeros(0, dtype=np.int64)
    efficiency, purity = fm4npp_efficiency_purity(empty, empty)
    assert efficiency == 0.0
    assert purity == 0.0
    assert adjusted_rand_index(empty, empty) == 1.0
