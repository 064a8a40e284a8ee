import logging

import numpy as np
import pytest

from fm4npp_geo.metrics import ParticleTruth, ReconstructableRule, double_majority

# Particle 1 has 6 hits, particle 2 has 4, particle 3 has 3, and 3 hits are noise.
PARTICLE = np.array([1] * 6 + [2] * 4 + [3] * 3 + [0] * 3)
# Track 0: 4 hits of 1. Track 1: 2 of 1 and 1 of 3. Track 2: 3 of 2, the fourth
# hit of 2 unassigned. Track 3: 2 of 3. Track 4: the 3 noise hits.
TRACK = np.array([0, 0, 0, 0, 1, 1] + [2, 2, 2, -1] + [3, 3, 1] + [4, 4, 4])


def test_two_way_rates():
    result = double_majority(TRACK, PARTICLE)
    # Tracks of >= 3 hits: 0, 1, 2, 4. Matched both ways: 0 (4/4, 4/6) and 2 (3/3, 3/4).
    assert result["num_reconstructable"] == 3
    assert result["num_tracks"] == 4
    assert result["num_matched_tracks"] == 2
    assert result["efficiency"] == pytest.approx(2 / 3)
    assert result["fake_rate"] == pytest.approx(2 / 4)
    assert result["duplicate_rate"] == 0.0
    assert result["perfect_efficiency"] == 0.0


def test_one_way_counts_duplicate():
    # Track 1 is 2/3 particle 1 on the track side: matched one way, as a
    # duplicate of track 0, which has more hits of particle 1.
    result = double_majority(TRACK, PARTICLE, two_way=False)
    assert result["efficiency"] == pytest.approx(2 / 3)
    assert result["fake_rate"] == pytest.approx(1 / 4)
    assert result["duplicate_rate"] == pytest.approx(1 / 4)
    assert result["num_duplicate_tracks"] == 1


def test_two_tracks_same_particle_one_efficient_one_duplicate():
    particle = np.array([1] * 10)
    track = np.array([0] * 6 + [1] * 4)
    one_way = double_majority(track, particle, two_way=False)
    assert one_way["efficiency"] == 1.0
    assert one_way["duplicate_rate"] == 0.5
    assert one_way["fake_rate"] == 0.0
    # Two ways, track 1 holds only 4 of 10 hits: a fake, not a duplicate.
    two_way = double_majority(track, particle)
    assert two_way["efficiency"] == 1.0
    assert two_way["duplicate_rate"] == 0.0
    assert two_way["fake_rate"] == 0.5


def test_min_track_hits_is_a_parameter():
    result = double_majority(TRACK, PARTICLE, min_track_hits=2)
    # Track 3 (2 of particle 3's 3 hits) now counts and is matched.
    assert result["efficiency"] == 1.0
    assert result["fake_rate"] == pytest.approx(2 / 5)


def test_exactly_half_is_not_matched():
    particle = np.array([1] * 8)
    track = np.array([0] * 4 + [1] * 4)
    assert double_majority(track, particle)["efficiency"] == 0.0
    assert double_majority(track, particle, matching_fraction=0.4)["efficiency"] == 1.0


def test_perfect_match():
    particle = np.array([1, 1, 1, 2, 2, 2, 0])
    assert double_majority(np.array([0, 0, 0, 1, 1, 1, -1]), particle)["perfect_efficiency"] == 1.0
    # A noise hit in track 0 keeps particle 1 found but not perfectly.
    impure = double_majority(np.array([0, 0, 0, 1, 1, 1, 0]), particle)
    assert impure["efficiency"] == 1.0
    assert impure["perfect_efficiency"] == 0.5


def test_perfect_match_needs_the_full_event():
    particle = np.array([1, 1, 1])
    table = np.ones((1, 13))
    table[0, 12] = 5
    result = double_majority(np.array([0, 0, 0]), particle, particles=table)
    assert result["efficiency"] == 1.0
    assert result["perfect_efficiency"] == 0.0


def test_reconstructable_rule():
    particle = np.array([1, 1, 1, 2, 2, 2, 3, 3, 3])
    track = np.array([0, 0, 0, -1, -1, -1, 2, 2, 2])
    truth = ParticleTruth.from_hits(particle, particle_pt=[0.5] * 3 + [2.0] * 3 + [3.0] * 3, particle_eta=[0.0] * 9)
    assert double_majority(track, particle, truth)["efficiency"] == pytest.approx(2 / 3)
    high_pt = ReconstructableRule(min_pt=1.0)
    # Particle 1 (0.5 GeV) drops out; particle 2 is missed, particle 3 found.
    assert double_majority(track, particle, truth, rule=high_pt)["efficiency"] == 0.5
    with pytest.raises(ValueError, match="needs pT"):
        double_majority(track, particle, rule=high_pt)


def test_no_reconstructable_particle_warns(caplog):
    particle = np.array([1, 1, 2, 2])
    with caplog.at_level(logging.WARNING, logger="fm4npp_geo.metrics.tracking"):
        result = double_majority(np.array([0, 0, 0, 0]), particle)
    assert result["efficiency"] == 0.0
    assert result["perfect_efficiency"] == 0.0
    assert result["fake_rate"] == 1.0
    assert "no reconstructable particle" in caplog.text


def test_noise_only_event():
    particle = np.zeros(5, dtype=np.int64)
    result = double_majority(np.zeros(5, dtype=np.int64), particle)
    assert result["efficiency"] == 0.0
    assert result["fake_rate"] == 1.0
    assert not any(np.isnan(value) for value in result.values())
    unassigned = double_majority(np.full(5, -1), particle)
    assert unassigned["num_tracks"] == 0
    assert unassigned["fake_rate"] == 0.0


def test_bad_matching_fraction_rejected():
    with pytest.raises(ValueError, match=r"matching_fraction must be in \[0, 1\), got 1.0"):
        double_majority(TRACK, PARTICLE, matching_fraction=1.0)
