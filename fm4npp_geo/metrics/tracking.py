"""Per-event tracking metrics on hit-to-track assignments.

Inputs are per-hit arrays: ``track_id`` (the predicted track of each hit) and
``particle_id`` (the truth particle of each hit, 0 for noise). Both may be
NumPy arrays or tensors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import adjusted_rand_score

from fm4npp_geo.metrics._inputs import (
    ArrayLike,
    as_label_array,
    check_predicted_labels,
    check_same_length,
)

logger = logging.getLogger(__name__)

#: Default marker of a predicted hit that belongs to no track.
UNASSIGNED = -1


@dataclass(frozen=True)
class TrackMatch:
    """Matching of one event's predicted tracks to its truth tracks (FM4NPP rule).

    Attributes:
        truth_particle: ids of the truth tracks (particles with enough hits), [T].
        truth_num_hits: hits of each truth track in the event, [T].
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


def _majority(track_id: np.ndarray, particle_id: np.ndarray):
    """Return, per predicted track, its size, majority particle and majority count.

    A tie for the majority goes to the smaller particle id. Noise (id 0) takes part
    like any particle, so a track made mostly of noise has majority 0.
    """
    tracks, track_index = np.unique(track_id, return_inverse=True)
    sizes = np.bincount(track_index, minlength=tracks.size)

    # Count hits per (track, particle) pair, then keep the largest count per track.
    # Sorting by (track, -count, particle) puts the winning pair first in each track.
    pairs, pair_count = np.unique(
        np.stack([track_index, particle_id]), axis=1, return_counts=True
    )
    pair_track, pair_particle = pairs
    order = np.lexsort((pair_particle, -pair_count, pair_track))
    first = np.ones(order.size, dtype=bool)
    first[1:] = pair_track[order][1:] != pair_track[order][:-1]
    winners = order[first]
    return tracks, sizes, pair_particle[winners], pair_count[winners]


def match_tracks(
    track_id: ArrayLike,
    particle_id: ArrayLike,
    min_truth_hits: int = 3,
    min_track_hits: int = 4,
    unassigned: int | None = UNASSIGNED,
) -> TrackMatch:
    """Match predicted tracks to truth tracks with the FM4NPP rule.

    A truth track is a non-noise particle with at least ``min_truth_hits`` hits in
    the event. It is found when some predicted track with at least
    ``min_track_hits`` hits has it as its majority particle and contains strictly more
    than 50% of the particle's hits. Hits labelled ``unassigned`` belong to no
    predicted track. Rule from FM4NPP (arXiv 2508.14087): truth tracks of >= 3
    hits, predicted tracks of >= 4 hits.

    Args:
        track_id (array [num_hits], int): predicted track per hit.
        particle_id (array [num_hits], int): truth particle per hit, 0 = noise.
        min_truth_hits (int): hits a particle needs to count as a truth track.
        min_track_hits (int): hits a predicted track needs to be considered.
        unassigned (int, optional): label of hits in no predicted track. Other
            negative labels raise ValueError.
    """
    track_id = as_label_array(track_id, "track_id")
    particle_id = as_label_array(particle_id, "particle_id")
    check_same_length(track_id, particle_id)
    check_predicted_labels(track_id, unassigned)

    particles, particle_hits = np.unique(particle_id, return_counts=True)
    is_truth = (particles != 0) & (particle_hits >= min_truth_hits)
    truth_particle = particles[is_truth]
    truth_num_hits = particle_hits[is_truth]

    assigned = track_id != unassigned if unassigned is not None else np.ones_like(track_id, bool)
    if not assigned.any():
        empty = np.zeros(0, dtype=np.float64)
        return TrackMatch(truth_particle, truth_num_hits, np.zeros(truth_particle.size, bool), empty)

    _, sizes, majority, majority_count = _majority(track_id[assigned], particle_id[assigned])
    keep = sizes >= min_track_hits
    sizes, majority, majority_count = sizes[keep], majority[keep], majority_count[keep]

    # A predicted track matches its majority particle when it contains more than half
    # of that particle's hits in the whole event.
    hits_of_majority = particle_hits[np.searchsorted(particles, majority)]
    matched = (majority != 0) & (2 * majority_count > hits_of_majority)
    truth_found = np.isin(truth_particle, majority[matched])
    return TrackMatch(truth_particle, truth_num_hits, truth_found, majority_count / sizes)


def fm4npp_efficiency_purity(
    track_id: ArrayLike,
    particle_id: ArrayLike,
    min_truth_hits: int = 3,
    min_track_hits: int = 4,
    unassigned: int | None = UNASSIGNED,
) -> tuple[float, float]:
    """Compute the FM4NPP tracking efficiency and purity of one event.

    Efficiency is the fraction of truth tracks found by :func:`match_tracks`.
    Purity is the mean majority fraction over predicted tracks with at least
    ``min_track_hits`` hits. An event with no truth track has efficiency 0.0 and
    one with no such predicted track has purity 0.0, each with a warning: pool
    counts over events with :class:`TrackingEvaluator` instead of averaging these
    ratios.

    Returns:
        (efficiency, purity) as floats in [0, 1].
    """
    match = match_tracks(track_id, particle_id, min_truth_hits, min_track_hits, unassigned)
    if match.num_truth == 0:
        logger.warning("event has no truth track with >= %d hits; efficiency set to 0.0", min_truth_hits)
        efficiency = 0.0
    else:
        efficiency = match.num_found / match.num_truth
    if match.num_tracks == 0:
        logger.warning("event has no predicted track with >= %d hits; purity set to 0.0", min_track_hits)
        purity = 0.0
    else:
        purity = float(match.track_majority_fraction.mean())
    return float(efficiency), purity


def adjusted_rand_index(
    track_id: ArrayLike,
    particle_id: ArrayLike,
    unassigned: int | None = UNASSIGNED,
) -> float:
    """Compute the adjusted Rand index between predicted tracks and truth particles.

    Truth noise (``particle_id == 0``) forms one cluster of its own, as in FM4NPP.
    Hits labelled ``unassigned`` form one predicted cluster, the prediction's
    counterpart of the noise cluster. Uses :func:`sklearn.metrics.adjusted_rand_score`.
    """
    track_id = as_label_array(track_id, "track_id")
    particle_id = as_label_array(particle_id, "particle_id")
    check_same_length(track_id, particle_id)
    check_predicted_labels(track_id, unassigned)
    if track_id.size == 0:
        logger.warning("event has no hits; adjusted Rand index set to 1.0")
        return 1.0
    return float(adjusted_rand_score(particle_id, track_id))
