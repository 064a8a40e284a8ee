"""The official TrackML challenge score and its per-hit weights.

Rules and constants follow the TrackML challenge library (``trackml/score.py``
and ``trackml/weights.py`` of github.com/LAL/trackml-library).
"""

from __future__ import annotations

import logging

import numpy as np
from torch_geometric.data import Data

from fm4npp_geo.metrics._inputs import ArrayLike, as_label_array, as_numpy, as_value_array, check_truth_labels
from fm4npp_geo.metrics.assignment import AssignmentTables
from fm4npp_geo.metrics.matching import trackml_good_tracks
from fm4npp_geo.metrics.tracking import UNASSIGNED, event_tables, ratio
from fm4npp_geo.metrics.truth import TABLE_COLUMN

logger = logging.getLogger(__name__)

#: Relative weights along a track, from its first hit to its last, stretched
#: over the particle's hits by linear interpolation.
ORDER_PROPOSAL = (10.0, 8.0, 6.0, 5.0, 3.0, 3.0, 3.0, 5.0, 6.0)
#: Particles with fewer hits get weight 0.
ORDER_MIN_HITS = 4
#: Longer particles use the 20-hit weights, and their hits after the 20th get 0.
ORDER_MAX_HITS = 20
#: pT weight: 0 below 0.05 GeV, 0.2 up to 0.5 GeV, rising linearly to 1 at 3 GeV.
PT_WEIGHT_KNOTS = ((0.05, 0.5, 3.0), (0.2, 0.2, 1.0))


def _order_weight_table() -> np.ndarray:
    """Return the order weights indexed by (particle hits, hit rank), each row summing to 1."""
    table = np.zeros((ORDER_MAX_HITS + 1, ORDER_MAX_HITS))
    for num_hits in range(ORDER_MIN_HITS, ORDER_MAX_HITS + 1):
        support = np.linspace(0.0, num_hits - 1, len(ORDER_PROPOSAL))
        weights = np.interp(np.arange(num_hits), support, ORDER_PROPOSAL)
        table[num_hits, :num_hits] = weights / weights.sum()
    return table


#: Order weight of the hit of rank ``i`` on a particle of ``n`` hits: ``ORDER_WEIGHTS[n, i]``.
ORDER_WEIGHTS = _order_weight_table()


def pt_weight(pt: ArrayLike) -> np.ndarray:
    """Return the TrackML pT weight of each transverse momentum in GeV."""
    knots, values = PT_WEIGHT_KNOTS
    return np.interp(as_numpy(pt).astype(np.float64), knots, values, left=0.0, right=1.0)


def trackml_weights(particle_id: ArrayLike, particle_pt: ArrayLike, hit_order: ArrayLike) -> np.ndarray:
    """Compute the per-hit TrackML score weights of one event.

    The weight of a hit is its order weight times its particle's pT weight,
    normalized so the event's weights sum to 1. Hits of a particle are ranked by
    ``hit_order`` (ties by position); the hit of rank ``i`` on a particle of ``n``
    hits gets ``ORDER_WEIGHTS[min(n, 20), i]``. Noise, particles with fewer than 4
    hits and hits after the 20th get weight 0. The TrackML library ranks by the
    distance in z from the particle's vertex, ``|z - v_z|``.

    Args:
        particle_id (array [num_hits]): truth particle per hit, 0 = noise.
        particle_pt (array [num_hits]): pT of the hit's particle in GeV.
        hit_order (array [num_hits]): position of the hit along its particle's path.

    Returns:
        float64 array ``[num_hits]``; all zeros, with a warning, when no hit weighs anything.
    """
    particle = as_label_array(particle_id, "particle_id")
    check_truth_labels(particle)
    pt = as_value_array(particle_pt, "particle_pt", particle.size)
    key = as_value_array(hit_order, "hit_order", particle.size)

    # Rank every hit inside its particle: sort by particle, then by position.
    order = np.lexsort((np.arange(particle.size), key, particle))
    sorted_particle = particle[order]
    is_start = np.ones(particle.size, dtype=bool)
    is_start[1:] = sorted_particle[1:] != sorted_particle[:-1]
    starts = np.flatnonzero(is_start)
    segment = np.cumsum(is_start) - 1
    rank = np.empty(particle.size, dtype=np.int64)
    num_hits = np.empty(particle.size, dtype=np.int64)
    rank[order] = np.arange(particle.size) - starts[segment]
    num_hits[order] = np.diff(np.append(starts, particle.size))[segment]

    scored = (particle != 0) & (num_hits >= ORDER_MIN_HITS) & (rank < ORDER_MAX_HITS)
    row = np.minimum(num_hits, ORDER_MAX_HITS)
    order_weight = np.where(scored, ORDER_WEIGHTS[row, np.minimum(rank, ORDER_MAX_HITS - 1)], 0.0)
    weight = order_weight * pt_weight(pt)
    total = weight.sum()
    if total <= 0:
        logger.warning("no hit of the event has a TrackML weight above 0 (no particle with >= 4 hits)")
        return weight
    return weight / total


def event_trackml_weights(event: Data) -> np.ndarray:
    """Return the TrackML weights of an event: ``event.weight`` when present, else computed.

    Computed weights take pT from ``event.particles`` when present, else from
    ``event.particle_pt``. They rank each particle's hits by their 3D distance in
    cm from the particle's production vertex when ``event.particles`` gives it,
    else from the origin. Distance in z alone, the TrackML choice for its long
    barrel, does not order the hits of a TPC track at small |eta|.
    """
    if "weight" in event and event.weight is not None:
        return as_value_array(event.weight, "weight", event.num_nodes)
    pos = as_numpy(event.pos).astype(np.float64)
    particle = as_label_array(event.particle_id, "particle_id")
    vertex = np.zeros_like(pos)
    pt = np.zeros(particle.size)
    if "particle_pt" in event:
        pt = as_value_array(event.particle_pt, "particle_pt", particle.size)
    if "particles" in event and event.particles is not None:
        table = as_numpy(event.particles).astype(np.float64)
        table = table[np.argsort(table[:, TABLE_COLUMN["particle_id"]], kind="stable")]
        ids = table[:, TABLE_COLUMN["particle_id"]].astype(np.int64)
        row = np.searchsorted(ids, particle)
        known = (particle != 0) & (row < ids.size)
        known[known] = ids[row[known]] == particle[known]
        rows = table[row[known]]
        vertex[known] = rows[:, [TABLE_COLUMN[name] for name in ("vx", "vy", "vz")]]
        pt[known] = np.hypot(rows[:, TABLE_COLUMN["px"]], rows[:, TABLE_COLUMN["py"]])
    elif "particle_pt" not in event:
        raise ValueError("computing TrackML weights needs event.particles or event.particle_pt")
    distance = np.linalg.norm(pos - vertex, axis=1)
    return trackml_weights(particle, pt, distance)


def trackml_scores_from_tables(tables: AssignmentTables) -> np.ndarray:
    """Return the TrackML score of every event in ``tables``, ``[E]``; 0.0 for a weightless event."""
    good = trackml_good_tracks(tables)
    scored = np.bincount(
        tables.track_event[good], weights=tables.track_majority_weight[good], minlength=tables.num_events
    ).astype(np.float64)
    total = tables.total_weight
    return np.divide(scored, total, out=np.zeros_like(scored), where=total > 0)


def trackml_score(
    track_id: ArrayLike,
    particle_id: ArrayLike,
    weight: ArrayLike,
    unassigned: int | None = UNASSIGNED,
) -> float:
    """Compute the official TrackML score of one event.

    The majority particle of a track is its most frequent particle, noise
    included, and a tie goes to the smaller id. A track is good when strictly
    more than 50% of its hits come from its majority particle. Those hits must
    also be strictly more than 50% of that particle's hits in the given truth.
    The score is the summed weight of the majority hits of the good
    tracks divided by the summed weight of all hits. So a perfect assignment
    scores 1 and one track holding every hit scores 0 (unless a single particle
    makes up most of the event). Each unassigned hit is a one-hit track.

    Args:
        track_id (array [num_hits], int): predicted track per hit.
        particle_id (array [num_hits], int): truth particle per hit, 0 = noise.
        weight (array [num_hits], float): per-hit weight, for example the
            ``weight`` column of a TrackML truth file or :func:`trackml_weights`.

    Returns:
        The score in [0, 1]; 0.0 with a warning when the weights sum to 0.
    """
    values = as_value_array(weight, "weight", as_numpy(particle_id).reshape(-1).shape[0])
    if (values < 0).any() or not np.isfinite(values).all():
        raise ValueError(f"TrackML weights must be finite and >= 0, got minimum {values.min()!r}")
    tables, _ = event_tables(track_id, particle_id, None, unassigned, weight=values)
    good = trackml_good_tracks(tables)
    return ratio(
        float(tables.track_majority_weight[good].sum()),
        float(tables.total_weight[0]),
        "TrackML score",
        "the hit weights of the event sum to 0",
    )
