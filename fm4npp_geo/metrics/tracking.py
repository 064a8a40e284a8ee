"""Per-event tracking metrics on hit-to-track assignments.

Inputs are per-hit arrays or tensors: ``track_id`` (the predicted track of each
hit) and ``particle_id`` (the truth particle of each hit, 0 for noise), and
optionally the event's full truth ``particles`` (a
:class:`~fm4npp_geo.metrics.truth.ParticleTruth` or the particle table
``data.particles``). Particle hit totals come from that full truth, so the hits
passed in may be a subset of the event. Without it the given hits count as the
whole event.

A negative predicted label raises ValueError unless it equals ``unassigned``.
Each unassigned hit is a one-hit track of its own in every metric.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from fm4npp_geo.metrics._inputs import (
    ArrayLike,
    as_label_array,
    as_value_array,
    check_predicted_labels,
    check_same_length,
    check_truth_labels,
    split_unassigned,
)
from fm4npp_geo.metrics.assignment import AssignmentTables, build_tables
from fm4npp_geo.metrics.matching import adjusted_rand_from_pairs, match_fm4npp, match_majority
from fm4npp_geo.metrics.truth import ParticleTruth, ReconstructableRule, as_particle_truth

logger = logging.getLogger(__name__)

#: Default marker of a predicted hit that belongs to no track.
UNASSIGNED = -1

TruthLike = ParticleTruth | ArrayLike | None


def event_tables(
    track_id: ArrayLike,
    particle_id: ArrayLike,
    particles: TruthLike = None,
    unassigned: int | None = UNASSIGNED,
    weight: ArrayLike | None = None,
) -> tuple[AssignmentTables, ParticleTruth]:
    """Check one event's inputs and build its track and truth tables."""
    track = as_label_array(track_id, "track_id")
    particle = as_label_array(particle_id, "particle_id")
    check_same_length(track, particle)
    check_predicted_labels(track, unassigned)
    check_truth_labels(particle)
    truth = as_particle_truth(particle, particles)
    values = None if weight is None else as_value_array(weight, "weight", particle.size)
    tables = build_tables(
        event=np.zeros(particle.size, dtype=np.int64),
        track=split_unassigned(track, unassigned),
        particle=particle,
        num_events=1,
        truth_event=np.zeros(len(truth), dtype=np.int64),
        truth_particle=truth.particle_id,
        truth_num_hits=truth.num_hits,
        weight=values,
    )
    return tables, truth


def ratio(numerator: float, denominator: float, name: str, reason: str) -> float:
    """Return numerator / denominator, or 0.0 with a warning when the denominator is 0."""
    if denominator == 0:
        logger.warning("%s set to 0.0: %s", name, reason)
        return 0.0
    return float(numerator / denominator)


@dataclass(frozen=True)
class TrackMatch:
    """Matching of one event's predicted tracks to its truth tracks (FM4NPP rule).

    Attributes:
        truth_particle: ids of the truth tracks (particles with enough hits), [T].
        truth_num_hits: full-event hits of each truth track, [T].
        truth_found: whether each truth track is found, [T] bool.
        track_majority_fraction: majority fraction of each predicted track with
            enough hits, [P].
    """

    truth_particle: np.ndarray
    truth_num_hits: np.ndarray
    truth_found: np.ndarray
    track_majority_fraction: np.ndarray

    @property
    def num_truth(self) -> int:
        return int(self.truth_particle.shape[0])

    @property
    def num_found(self) -> int:
        return int(self.truth_found.sum())

    @property
    def num_tracks(self) -> int:
        return int(self.track_majority_fraction.shape[0])


def match_tracks(
    track_id: ArrayLike,
    particle_id: ArrayLike,
    min_truth_hits: int = 3,
    min_track_hits: int = 4,
    unassigned: int | None = UNASSIGNED,
    particles: TruthLike = None,
) -> TrackMatch:
    """Match predicted tracks to truth tracks with the FM4NPP rule (arXiv 2508.14087).

    A truth track is a non-noise particle with at least ``min_truth_hits`` hits in
    the full event. It is found when some predicted track with at least
    ``min_track_hits`` hits has it as its majority particle and contains strictly
    more than 50% of the particle's full-event hits. The majority particle is the
    one with the most hits in the track, noise included, and a tie goes to the
    smaller particle id. FM4NPP uses truth tracks of >= 3 hits and predicted
    tracks of >= 4 hits.

    Args:
        track_id (array [num_hits], int): predicted track per hit.
        particle_id (array [num_hits], int): truth particle per hit, 0 = noise.
        min_truth_hits (int): hits a particle needs to count as a truth track.
        min_track_hits (int): hits a predicted track needs to be considered.
        unassigned (int, optional): label of hits in no predicted track. Other
            negative labels raise ValueError.
        particles (optional): the event's full truth (see the module docstring).
    """
    tables, truth = event_tables(track_id, particle_id, particles, unassigned)
    match = match_fm4npp(tables, min_truth_hits, min_track_hits)
    return TrackMatch(
        truth_particle=truth.particle_id[match.truth_track],
        truth_num_hits=truth.num_hits[match.truth_track],
        truth_found=match.truth_found[match.truth_track],
        track_majority_fraction=match.track_fraction[match.track_considered],
    )


def fm4npp_efficiency_purity(
    track_id: ArrayLike,
    particle_id: ArrayLike,
    min_truth_hits: int = 3,
    min_track_hits: int = 4,
    unassigned: int | None = UNASSIGNED,
    particles: TruthLike = None,
) -> tuple[float, float]:
    """Compute the FM4NPP tracking efficiency and purity of one event.

    Efficiency is the fraction of truth tracks found by :func:`match_tracks`.
    Purity is the mean majority fraction over predicted tracks with at least
    ``min_track_hits`` hits. An event with no truth track has efficiency 0.0 and
    one with no such predicted track has purity 0.0, each with a warning: pool
    counts over events with :class:`~fm4npp_geo.metrics.TrackingEvaluator`
    instead of averaging these ratios.

    Returns:
        (efficiency, purity) as floats in [0, 1].
    """
    match = match_tracks(track_id, particle_id, min_truth_hits, min_track_hits, unassigned, particles)
    efficiency = ratio(
        match.num_found, match.num_truth, "efficiency", f"the event has no truth track with >= {min_truth_hits} hits"
    )
    purity = ratio(
        float(match.track_majority_fraction.sum()),
        match.num_tracks,
        "purity",
        f"the event has no predicted track with >= {min_track_hits} hits",
    )
    return efficiency, purity


def double_majority(
    track_id: ArrayLike,
    particle_id: ArrayLike,
    particles: TruthLike = None,
    rule: ReconstructableRule | None = None,
    matching_fraction: float = 0.5,
    two_way: bool = True,
    min_track_hits: int = 3,
    unassigned: int | None = UNASSIGNED,
) -> dict[str, float]:
    """Compute majority-matching efficiency, fake and duplicate rates of one event.

    Tracks are matched to particles by
    :func:`~fm4npp_geo.metrics.matching.match_majority`: double majority (TrackML
    and ACTS style) when ``two_way``, else on the track side only. The rates
    follow the Exa.TrkX / acorn evaluation:

    - ``efficiency``: reconstructable particles matched by a track, over
      reconstructable particles (``rule``, default: at least 3 full-event hits).
    - ``fake_rate``: considered tracks (at least ``min_track_hits`` hits) not
      matched to any particle, over considered tracks.
    - ``duplicate_rate``: matched tracks of reconstructable particles beyond the
      first per particle, over considered tracks.
    - ``perfect_efficiency``: reconstructable particles whose full-event hits form
      exactly one track with no other hit, over reconstructable particles.

    A zero denominator gives 0.0 with a warning. The counts behind each ratio are
    returned too (``num_reconstructable``, ``num_found``, ``num_perfect``,
    ``num_tracks``, ``num_matched_tracks``, ``num_duplicate_tracks``).

    Args:
        particles (optional): the event's full truth; needed when ``rule`` cuts on
            pT, eta, layers or the primary flag.
        rule (ReconstructableRule, optional): which particles are reconstructable.
        matching_fraction (float): the fraction both sides must strictly exceed.
    """
    rule = rule or ReconstructableRule()
    tables, truth = event_tables(track_id, particle_id, particles, unassigned)
    match = match_majority(tables, rule.select(truth), matching_fraction, two_way, min_track_hits)
    counts = {
        "num_reconstructable": int(match.reconstructable.sum()),
        "num_found": int(match.found.sum()),
        "num_perfect": int(match.perfect.sum()),
        "num_tracks": int(match.track_considered.sum()),
        "num_matched_tracks": int(match.track_matched.sum()),
        "num_duplicate_tracks": int(match.track_duplicate.sum()),
    }
    no_particles = "the event has no reconstructable particle"
    no_tracks = f"the event has no predicted track with >= {min_track_hits} hits"
    return {
        "efficiency": ratio(counts["num_found"], counts["num_reconstructable"], "efficiency", no_particles),
        "fake_rate": ratio(
            counts["num_tracks"] - counts["num_matched_tracks"], counts["num_tracks"], "fake_rate", no_tracks
        ),
        "duplicate_rate": ratio(counts["num_duplicate_tracks"], counts["num_tracks"], "duplicate_rate", no_tracks),
        "perfect_efficiency": ratio(
            counts["num_perfect"], counts["num_reconstructable"], "perfect_efficiency", no_particles
        ),
        **counts,
    }


def adjusted_rand_index(
    track_id: ArrayLike,
    particle_id: ArrayLike,
    unassigned: int | None = UNASSIGNED,
) -> float:
    """Compute the adjusted Rand index between predicted tracks and truth particles.

    Truth noise (``particle_id == 0``) forms one cluster of its own, as in FM4NPP.
    Each hit labelled ``unassigned`` is a cluster of its own. The value equals
    :func:`sklearn.metrics.adjusted_rand_score` on the same labels (to float64
    rounding), and is 1.0 for an event with fewer than two hits.
    """
    tables, _ = event_tables(track_id, particle_id, None, unassigned)
    if tables.hits[0] < 2:
        logger.warning("event has %d hit(s); adjusted Rand index set to 1.0", int(tables.hits[0]))
    ari = adjusted_rand_from_pairs(
        tables.hits, tables.pairs_same_both, tables.pairs_same_track, tables.pairs_same_particle
    )
    return float(ari[0])
