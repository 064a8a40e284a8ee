"""Tables of predicted tracks and truth particles over many events, built in one pass.

Every tracking metric in this package reads these tables, so all of them share
one definition of a track's majority particle and one set of hit counts. The
tables are built for a batch of events at once with sorts and bincounts over
all hits, without a Python loop over events, hits or tracks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Largest combined sort key; above it ids are first replaced by their rank.
_MAX_KEY = 2**62


def _pairs_of(count: np.ndarray) -> np.ndarray:
    """Return n (n - 1) / 2 as float64: the number of hit pairs among n hits."""
    count = count.astype(np.float64)
    return 0.5 * count * (count - 1.0)


def _segment_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Return the positions where a new value starts in a sorted array."""
    if sorted_keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.empty(sorted_keys.size, dtype=bool)
    change[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=change[1:])
    return np.flatnonzero(change)


@dataclass(frozen=True)
class AssignmentTables:
    """Predicted tracks and truth particles of a batch of events.

    A predicted track is one (event, track label) pair. Hits the caller marked
    unassigned arrive here as one-hit tracks. The majority particle of a track is
    the particle (noise, id 0, included) with the most hits in it, and a tie goes
    to the smaller particle id.

    Attributes:
        num_events: events in the batch, E.
        hits: hits per event, ``[E]``.
        pairs_same_both: hit pairs in the same track and the same particle, per
            event, ``[E]`` float64 (truth noise is one cluster).
        pairs_same_track: hit pairs in the same predicted track, ``[E]``.
        pairs_same_particle: hit pairs from the same truth particle, ``[E]``.
        total_weight: summed hit weight per event, ``[E]``, or None.
        track_event: event of each track, ``[T]``.
        track_size: hits of each track, ``[T]``.
        track_majority: majority particle id of each track, ``[T]``.
        track_majority_hits: hits of the majority particle in the track, ``[T]``.
        track_majority_given: hits of the majority particle among the event's
            given hits, ``[T]``.
        track_majority_total: full-event hits of the majority particle, ``[T]``;
            for a noise majority, the event's given noise hits.
        track_majority_weight: summed weight of the track's majority hits, ``[T]``,
            or None.
        track_truth_row: row of the majority particle in the truth arrays, or -1
            for noise, ``[T]``.
        truth_event: event of each truth particle, ``[P]``.
        truth_particle: id of each truth particle, ``[P]``.
        truth_num_hits: full-event hits of each truth particle, ``[P]``.
    """

    num_events: int
    hits: np.ndarray
    pairs_same_both: np.ndarray
    pairs_same_track: np.ndarray
    pairs_same_particle: np.ndarray
    total_weight: np.ndarray | None
    track_event: np.ndarray
    track_size: np.ndarray
    track_majority: np.ndarray
    track_majority_hits: np.ndarray
    track_majority_given: np.ndarray
    track_majority_total: np.ndarray
    track_majority_weight: np.ndarray | None
    track_truth_row: np.ndarray
    truth_event: np.ndarray
    truth_particle: np.ndarray
    truth_num_hits: np.ndarray


def _rank_if_large(values: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Replace ``values`` by their rank among the distinct values when the largest exceeds ``limit``.

    Returns the (possibly ranked) values and the sorted distinct originals, or
    None when nothing was replaced. Ranking keeps the order of the values.
    """
    if values.size == 0 or int(values.max()) <= limit:
        return values, None
    distinct, rank = np.unique(values, return_inverse=True)
    return rank.astype(np.int64), distinct


def build_tables(
    event: np.ndarray,
    track: np.ndarray,
    particle: np.ndarray,
    num_events: int,
    truth_event: np.ndarray,
    truth_particle: np.ndarray,
    truth_num_hits: np.ndarray,
    weight: np.ndarray | None = None,
) -> AssignmentTables:
    """Build the track and truth tables of a batch of events.

    Args:
        event (array [H], int64): event index of each hit, ``0 <= event < num_events``.
        track (array [H], int64): predicted track label of each hit, >= 0, with
            unassigned hits already given labels of their own.
        particle (array [H], int64): truth particle of each hit, 0 for noise.
        num_events (int): events in the batch.
        truth_event, truth_particle, truth_num_hits (arrays [P]): the full-event
            truth particles of all events, sorted by (event, particle id), with
            every non-noise (event, particle) of the hits among them.
        weight (array [H], float, optional): per-hit weight, for the TrackML score.
    """
    num_hits = event.shape[0]
    hits = np.bincount(event, minlength=num_events)

    # 1. Compact sort keys: event, then track, then particle. Ids above 2^20
    #    (TrackML particle ids reach about 2^59) are replaced by their rank over
    #    the hits and the truth table together, which keeps their order.
    particle_all, distinct = _rank_if_large(np.concatenate([particle, truth_particle]), 2**20)
    track_key, _ = _rank_if_large(track, 2**20)
    track_span = int(track_key.max(initial=0)) + 1
    particle_span = int(particle_all.max(initial=0)) + 1
    if (num_events + 1) * track_span * particle_span >= _MAX_KEY:
        raise ValueError(
            f"{num_events} events with up to {track_span} tracks and {particle_span} particles each "
            "are too many to evaluate in one batch; evaluate fewer events at a time"
        )
    particle_key, truth_key_id = particle_all[:num_hits], particle_all[num_hits:]
    pair_key = (event * track_span + track_key) * particle_span + particle_key

    # 2. Hits per (event, track, particle) pair, with their summed weight.
    if weight is None:
        pair_keys, pair_count = np.unique(pair_key, return_counts=True)
        pair_weight = None
    else:
        order = np.argsort(pair_key)
        sorted_keys = pair_key[order]
        starts = _segment_starts(sorted_keys)
        pair_keys = sorted_keys[starts]
        pair_count = np.diff(np.append(starts, num_hits))
        pair_weight = np.add.reduceat(weight[order], starts) if num_hits else np.zeros(0)
    pair_particle = pair_keys % particle_span
    pair_track_key = pair_keys // particle_span
    pair_event = pair_track_key // track_span

    # 3. Tracks: pairs are sorted by track, then by particle id inside a track, so
    #    the first pair with the track's largest count is its majority.
    track_starts = _segment_starts(pair_track_key)
    is_start = np.zeros(pair_keys.size, dtype=bool)
    is_start[track_starts] = True
    track_index = np.cumsum(is_start) - 1
    track_size = np.add.reduceat(pair_count, track_starts) if pair_keys.size else np.zeros(0, np.int64)
    track_max = np.maximum.reduceat(pair_count, track_starts) if pair_keys.size else np.zeros(0, np.int64)
    candidates = np.flatnonzero(pair_count == track_max[track_index])
    majority_pair = candidates[_segment_starts(track_index[candidates])]

    # 4. Hits per (event, particle) among the given hits.
    given_keys, given_inverse = np.unique(pair_event * particle_span + pair_particle, return_inverse=True)
    given_count = np.bincount(given_inverse, weights=pair_count).astype(np.int64)

    majority_key = pair_event[majority_pair] * particle_span + pair_particle[majority_pair]
    majority_given = given_count[np.searchsorted(given_keys, majority_key)]

    # 5. Full-event totals of each majority particle from the truth table.
    majority_id = pair_particle[majority_pair]
    if distinct is not None:
        majority_id = distinct[majority_id]
    is_noise = majority_id == 0
    truth_keys = truth_event * particle_span + truth_key_id
    truth_row = np.searchsorted(truth_keys, majority_key)
    found = ~is_noise & (truth_row < truth_keys.size)
    found[found] = truth_keys[truth_row[found]] == majority_key[found]
    if (~is_noise & ~found).any():
        raise ValueError("a predicted track's majority particle is missing from the truth particles")
    truth_row = np.where(found, truth_row, -1)
    majority_total = majority_given.copy()
    majority_total[found] = truth_num_hits[truth_row[found]]

    return AssignmentTables(
        num_events=num_events,
        hits=hits,
        pairs_same_both=np.bincount(pair_event, weights=_pairs_of(pair_count), minlength=num_events),
        pairs_same_track=np.bincount(pair_event[track_starts], weights=_pairs_of(track_size), minlength=num_events),
        pairs_same_particle=np.bincount(
            given_keys // particle_span, weights=_pairs_of(given_count), minlength=num_events
        ),
        total_weight=None if weight is None else np.bincount(event, weights=weight, minlength=num_events),
        track_event=pair_event[track_starts],
        track_size=track_size.astype(np.int64),
        track_majority=majority_id,
        track_majority_hits=pair_count[majority_pair].astype(np.int64),
        track_majority_given=majority_given,
        track_majority_total=majority_total,
        track_majority_weight=None if pair_weight is None else pair_weight[majority_pair],
        track_truth_row=truth_row.astype(np.int64),
        truth_event=truth_event,
        truth_particle=truth_particle,
        truth_num_hits=truth_num_hits,
    )
