"""Edge-level efficiency and purity of hit graphs, for graph-based trackers."""

from __future__ import annotations

import logging

import numpy as np

from fm4npp_geo.metrics._inputs import ArrayLike, as_label_array, as_numpy

logger = logging.getLogger(__name__)


def _as_flags(values: ArrayLike, name: str) -> np.ndarray:
    array = as_numpy(values).reshape(-1)
    if array.dtype != bool and not np.isin(array, (0, 1)).all():
        raise ValueError(f"'{name}' must hold booleans or 0/1 per edge, got values {np.unique(array)[:5]}")
    return array.astype(bool)


def true_edges(edge_index: ArrayLike, particle_id: ArrayLike) -> np.ndarray:
    """Flag the edges whose two hits come from the same particle, noise excluded.

    Args:
        edge_index (array [2, E]): hit indices of each edge.
        particle_id (array [N]): truth particle of each hit, 0 = noise.

    Returns:
        bool array ``[E]``.
    """
    edges = as_numpy(edge_index)
    if edges.ndim != 2 or edges.shape[0] != 2:
        raise ValueError(f"'edge_index' must have shape [2, E], got {list(edges.shape)}")
    particle = as_label_array(particle_id, "particle_id")
    if edges.size and (edges.min() < 0 or edges.max() >= particle.size):
        raise ValueError(f"'edge_index' refers to hits outside 0..{particle.size - 1}")
    source, target = particle[edges[0]], particle[edges[1]]
    return (source == target) & (source != 0)


def edge_efficiency_purity(
    edge_y: ArrayLike,
    edge_pred: ArrayLike | None = None,
    num_true_edges: int | None = None,
) -> tuple[float, float]:
    """Compute the edge efficiency and purity of a graph or of an edge classifier.

    Efficiency is the number of true edges kept over ``num_true_edges`` (the edges
    of the truth graph, for example consecutive hits of each particle), or over
    the true edges among the candidates when it is None. Purity is the number of
    true edges kept over all edges kept. ``edge_pred`` flags the edges an edge
    classifier keeps; without it every candidate edge is kept, which scores the
    graph construction step. A zero denominator gives 0.0 with a warning.

    Args:
        edge_y (array [E], bool): truth of each candidate edge.
        edge_pred (array [E], bool, optional): edges kept.
        num_true_edges (int, optional): size of the truth graph.

    Returns:
        (efficiency, purity) as floats in [0, 1].
    """
    truth = _as_flags(edge_y, "edge_y")
    selected = np.ones_like(truth) if edge_pred is None else _as_flags(edge_pred, "edge_pred")
    if selected.shape != truth.shape:
        raise ValueError(f"'edge_pred' has {selected.shape[0]} edges but 'edge_y' has {truth.shape[0]}")
    true_kept = int((truth & selected).sum())
    total_true = int(truth.sum()) if num_true_edges is None else int(num_true_edges)
    if total_true < int(truth.sum()):
        raise ValueError(
            f"num_true_edges={num_true_edges} is smaller than the {int(truth.sum())} true candidate edges"
        )
    if total_true == 0:
        logger.warning("edge efficiency set to 0.0: there are no true edges")
    if not selected.any():
        logger.warning("edge purity set to 0.0: no edge is kept")
    efficiency = true_kept / total_true if total_true else 0.0
    purity = true_kept / int(selected.sum()) if selected.any() else 0.0
    return float(efficiency), float(purity)
