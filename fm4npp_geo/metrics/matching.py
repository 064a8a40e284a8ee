"""Matching rules between predicted tracks and truth particles, applied to whole tables.

Each function takes :class:`~fm4npp_geo.metrics.assignment.AssignmentTables` of
any number of events and returns per-track and per-particle flags, so the
per-event functions and the evaluator share every rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fm4npp_geo.metrics.assignment import AssignmentTables


@dataclass(frozen=True)
class FM4NPPMatch:
    """Result of the FM4NPP matching rule.

    Attributes:
        truth_track: particle is a truth track (enough full-event hits), ``[P]``.
        truth_found: truth track found by some predicted track, ``[P]``.
        track_considered: predicted track has enough hits to be scored, ``[T]``.
        track_fraction: majority fraction (majority hits / track hits), ``[T]``.
    """

    truth_track: np.ndarray
    truth_found: np.ndarray
    track_considered: np.ndarray
    track_fraction: np.ndarray


def match_fm4npp(tables: AssignmentTables, min_truth_hits: int = 3, min_track_hits: int = 4) -> FM4NPPMatch:
    """Apply the tracking rule of FM4NPP (arXiv 2508.14087).

    A truth track is a particle with at least ``min_truth_hits`` hits in the full
    event. It is found when a predicted track with at least ``min_track_hits``
    hits has it as majority particle and contains strictly more than 50% of the
    particle's full-event hits. The majority fraction of a predicted track is its
    majority particle's hits over its own hits, noise counting as a particle.
    """
    considered = tables.track_size >= min_track_hits
    matched = (
        considered
        & (tables.track_truth_row >= 0)
        & (2 * tables.track_majority_hits > tables.track_majority_total)
    )
    truth_track = tables.truth_num_hits >= min_truth_hits
    found = np.zeros(truth_track.shape[0], dtype=bool)
    found[tables.track_truth_row[matched]] = True
    fraction = tables.track_majority_hits / np.maximum(tables.track_size, 1)
    return FM4NPPMatch(truth_track, found & truth_track, considered, fraction)


@dataclass(frozen=True)
class MajorityMatch:
    """Result of the majority matching rule (one-way or double majority).

    Attributes:
        reconstructable: particle passes the reconstructable rule, ``[P]``.
        found: reconstructable particle matched by at least one track, ``[P]``.
        perfect: reconstructable particle whose hits form exactly one track, ``[P]``.
        track_considered: track has enough hits to be scored, ``[T]``.
        track_matched: considered track matched to its majority particle, ``[T]``.
        track_duplicate: matched track of a reconstructable particle that another
            matched track already claims, ``[T]``.
    """

    reconstructable: np.ndarray
    found: np.ndarray
    perfect: np.ndarray
    track_considered: np.ndarray
    track_matched: np.ndarray
    track_duplicate: np.ndarray


def match_majority(
    tables: AssignmentTables,
    reconstructable: np.ndarray,
    matching_fraction: float = 0.5,
    two_way: bool = True,
    min_track_hits: int = 3,
) -> MajorityMatch:
    """Apply the majority matching rule of the TrackML / ACTS / Exa.TrkX evaluations.

    A track with at least ``min_track_hits`` hits is matched to its majority
    particle (never noise) when the majority hits are strictly more than
    ``matching_fraction`` of the track's hits. The two-way (double majority)
    rule also needs them to be strictly more than ``matching_fraction`` of the
    particle's full-event hits. A reconstructable particle is found when a
    matched track has it; it is perfectly found when one track holds exactly its
    full-event hits and nothing else. When several matched tracks share one
    reconstructable particle, the one with the most majority hits (the first on
    a tie) is the match and the others are duplicates.
    """
    if not 0.0 <= matching_fraction < 1.0:
        raise ValueError(f"matching_fraction must be in [0, 1), got {matching_fraction!r}")
    majority_hits = tables.track_majority_hits
    considered = tables.track_size >= min_track_hits
    matched = considered & (tables.track_truth_row >= 0) & (majority_hits > matching_fraction * tables.track_size)
    if two_way:
        matched &= majority_hits > matching_fraction * tables.track_majority_total
    row = tables.track_truth_row

    found = np.zeros(reconstructable.shape[0], dtype=bool)
    found[row[matched]] = True
    found &= reconstructable
    exact = matched & (majority_hits == tables.track_size) & (majority_hits == tables.track_majority_total)
    perfect = np.zeros_like(found)
    perfect[row[exact]] = True
    perfect &= reconstructable

    # Order the matched tracks of reconstructable particles by particle, then by
    # majority hits (largest first); the first of each particle is the match.
    claims = np.flatnonzero(matched)
    claims = claims[reconstructable[row[claims]]]
    order = np.lexsort((-majority_hits[claims], row[claims]))
    claims = claims[order]
    first = np.ones(claims.size, dtype=bool)
    first[1:] = row[claims][1:] != row[claims][:-1]
    duplicate = np.zeros_like(matched)
    duplicate[claims[~first]] = True
    return MajorityMatch(reconstructable, found, perfect, considered, matched, duplicate)


def adjusted_rand_from_pairs(
    hits: np.ndarray,
    same_both: np.ndarray,
    same_track: np.ndarray,
    same_particle: np.ndarray,
) -> np.ndarray:
    """Return the adjusted Rand index from hit-pair counts.

    With tp the pairs together in both clusterings, fp together only in the
    prediction, fn together only in the truth and tn apart in both, the index is
    ``2 (tp tn - fn fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn))``, and 1.0 when
    fn = fp = 0. This is the pair-counting form scikit-learn's
    ``adjusted_rand_score`` uses, computed here in float64.
    """
    hits = np.asarray(hits, dtype=np.float64)
    tp = np.asarray(same_both, dtype=np.float64)
    fp = same_track - tp
    fn = same_particle - tp
    tn = 0.5 * hits * (hits - 1.0) - tp - fp - fn
    denominator = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)
    perfect = (fn == 0) & (fp == 0)
    safe = np.where(perfect, 1.0, denominator)
    return np.where(perfect, 1.0, 2.0 * (tp * tn - fn * fp) / safe)


def trackml_good_tracks(tables: AssignmentTables) -> np.ndarray:
    """Flag the tracks that score in the official TrackML metric, ``[T]`` bool.

    A track is good when strictly more than 50% of its hits come from its
    majority particle and those hits are strictly more than 50% of that
    particle's hits among the given truth hits, as in the TrackML library's
    ``score_event``.
    """
    majority = 2 * tables.track_majority_hits
    return (majority > tables.track_size) & (majority > tables.track_majority_given)
