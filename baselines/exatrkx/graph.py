"""Radius graph with a neighbour cap in the learned embedding space."""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

try:
    import torch_cluster
except ImportError:
    torch_cluster = None

logger = logging.getLogger(__name__)

#: Backends of :func:`build_radius_graph`.
BACKENDS = ("auto", "torch_cluster", "kdtree", "brute_force")

# Maximum number of pairwise distances the brute-force search computes per
# block of query hits (64 MB in float32).
_MAX_BLOCK_DISTANCES = 1 << 24


class RadiusGraph(NamedTuple):
    """A graph built by :func:`build_radius_graph`."""

    #: Edges, each pointing from the hit with smaller transverse radius to the
    #: one with larger radius, shape :math:`(2, |E|)`.
    edge_index: Tensor
    #: Number of hits that had more than ``max_num_neighbors`` neighbours
    #: within the radius and so kept only the nearest ones.
    num_capped_hits: int


def build_radius_graph(
    embedding: Tensor,
    r: float,
    max_num_neighbors: int = 32,
    pos: Tensor | None = None,
    backend: str = "auto",
) -> RadiusGraph:
    r"""Build an undirected radius graph on points in an embedding space.

    Each hit :math:`i` keeps its :obj:`max_num_neighbors` nearest other hits
    :math:`j` with :math:`\lVert e_i - e_j \rVert_2 < r`, so hits with equal
    embeddings are joined but never to themselves. The pair :math:`\{i, j\}`
    becomes one edge when either hit keeps the other. An edge points from the
    hit with the smaller transverse radius (from :obj:`pos`) to the larger
    one, and from the smaller index to the larger one on a tie or without
    :obj:`pos`. Hits whose neighbour list was cut are counted and returned,
    so a caller can report how many edges the cap may have dropped.

    Args:
        embedding (torch.Tensor): Embedded hits.
        r (float): Radius in embedding units.
        max_num_neighbors (int, optional): Maximum number of neighbours each
            hit keeps. (default: :obj:`32`)
        pos (torch.Tensor, optional): Hit positions :math:`(x, y, z)` in cm,
            used to orient the edges. (default: :obj:`None`)
        backend (str, optional): :obj:`"torch_cluster"` (its k-nearest
            neighbour search, CPU or GPU), :obj:`"kdtree"` (SciPy, CPU),
            :obj:`"brute_force"` (blocked :func:`torch.cdist` on the device of
            :obj:`embedding`) or :obj:`"auto"` (``torch_cluster`` when it is
            installed, else the k-d tree for CPU tensors and brute force
            otherwise). All give the same edges up to ties in distance at the
            neighbour cap. (default: :obj:`"auto"`)

    Shapes:
        - **input:** embedding :math:`(|V|, D)`, pos :math:`(|V|, 3)`
        - **output:** edge_index :math:`(2, |E|)`

    Returns:
        The edges, sorted by source and then target, and the number of hits
        whose neighbour list was cut at :obj:`max_num_neighbors`.
    """
    if embedding.dim() != 2:
        raise ValueError(
            f"Expected 'embedding' of shape [num_hits, dim], got "
            f"{list(embedding.shape)}"
        )
    if not r > 0:
        raise ValueError(f"Expected a positive radius 'r', got {r}")
    if max_num_neighbors < 1:
        raise ValueError(
            f"Expected 'max_num_neighbors' >= 1, got {max_num_neighbors}"
        )
    if pos is not None and (pos.dim() != 2 or pos.size(0) != embedding.size(0)):
        raise ValueError(
            f"Expected 'pos' of shape [{embedding.size(0)}, 3], got "
            f"{list(pos.shape)}"
        )
    backend = _resolve_backend(backend, embedding.device)

    device = embedding.device
    num_hits = embedding.size(0)
    if num_hits < 2:
        empty = torch.empty(2, 0, dtype=torch.long, device=device)
        return RadiusGraph(empty, 0)

    embedding = embedding.detach()
    if backend == "torch_cluster":
        source, target, capped = _neighbours_torch_cluster(
            embedding, r, max_num_neighbors
        )
    elif backend == "kdtree":
        source, target, capped = _neighbours_kdtree(embedding, r, max_num_neighbors)
        source, target, capped = (
            source.to(device),
            target.to(device),
            capped.to(device),
        )
    else:
        source, target, capped = _neighbours_brute_force(
            embedding, r, max_num_neighbors
        )

    edge_index = _orient_unique_edges(source, target, num_hits, pos)
    num_capped_hits = int(capped.sum())
    logger.debug(
        "Radius graph: %d hits, %d edges, %d hits capped at %d neighbours",
        num_hits,
        edge_index.size(1),
        num_capped_hits,
        max_num_neighbors,
    )
    return RadiusGraph(edge_index, num_capped_hits)


def _resolve_backend(backend: str, device: torch.device) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"Expected 'backend' in {BACKENDS}, got '{backend}'")
    if backend == "torch_cluster" and torch_cluster is None:
        raise ImportError(
            "The 'torch_cluster' backend needs the torch-cluster package; "
            "install it with `pip install torch-cluster` or use backend='auto'"
        )
    if backend != "auto":
        return backend
    if torch_cluster is not None:
        return "torch_cluster"
    return "kdtree" if device.type == "cpu" else "brute_force"


def _neighbours_torch_cluster(
    embedding: Tensor, r: float, max_num_neighbors: int
) -> tuple[Tensor, Tensor, Tensor]:
    # torch_cluster.radius_graph keeps an arbitrary subset of the neighbours
    # above its cap, so the k nearest neighbours are searched instead and cut
    # at the radius, as the other backends do. Two extra slots hold the query
    # hit itself and tell a hit with exactly max_num_neighbors neighbours from
    # one with more.
    num_hits = embedding.size(0)
    points = embedding.float().contiguous()
    k = min(max_num_neighbors + 2, num_hits)
    query, neighbour = torch_cluster.knn(points, points, k)
    distance = (points[query] - points[neighbour]).norm(dim=-1)
    valid = (query != neighbour) & (distance < r)
    query, neighbour, distance = query[valid], neighbour[valid], distance[valid]

    # Rank each hit's neighbours by distance: sort by distance, then stably
    # by query hit, and count the position inside each query's run.
    by_distance = torch.sort(distance, stable=True).indices
    by_query = torch.sort(query[by_distance], stable=True).indices
    order = by_distance[by_query]
    query, neighbour = query[order], neighbour[order]
    count = torch.bincount(query, minlength=num_hits)
    first = torch.cumsum(count, dim=0) - count
    rank = torch.arange(query.numel(), device=query.device) - first[query]

    keep = rank < max_num_neighbors
    return query[keep], neighbour[keep], count > max_num_neighbors


def _neighbours_kdtree(
    embedding: Tensor, r: float, max_num_neighbors: int
) -> tuple[Tensor, Tensor, Tensor]:
    points = embedding.cpu().double().numpy()
    num_hits = points.shape[0]

    # Two extra slots: one for the query hit itself and one to tell a hit with
    # exactly max_num_neighbors neighbours from one with more.
    k = min(max_num_neighbors + 2, num_hits)
    distance, index = cKDTree(points).query(points, k=k, distance_upper_bound=r)
    distance = distance.reshape(num_hits, k)
    index = index.reshape(num_hits, k)

    query = np.broadcast_to(np.arange(num_hits)[:, None], index.shape)
    # Missing neighbours come back as index num_hits and distance inf.
    valid = (index < num_hits) & (index != query) & (distance < r)
    rank = np.cumsum(valid, axis=1)
    keep = valid & (rank <= max_num_neighbors)
    capped = valid.sum(axis=1) > max_num_neighbors

    return (
        torch.from_numpy(query[keep].copy()),
        torch.from_numpy(index[keep].astype(np.int64)),
        torch.from_numpy(capped),
    )


def _neighbours_brute_force(
    embedding: Tensor, r: float, max_num_neighbors: int
) -> tuple[Tensor, Tensor, Tensor]:
    num_hits = embedding.size(0)
    points = embedding.float()
    k = min(max_num_neighbors, num_hits - 1)
    block_size = max(1, _MAX_BLOCK_DISTANCES // num_hits)

    sources, targets, capped = [], [], []
    for start in range(0, num_hits, block_size):
        query = torch.arange(
            start, min(start + block_size, num_hits), device=points.device
        )
        distance = torch.cdist(
            points[query], points, compute_mode="donot_use_mm_for_euclid_dist"
        )
        # A hit is never its own neighbour, even among duplicate points.
        rows = torch.arange(query.numel(), device=points.device)
        distance[rows, query] = float("inf")

        within = distance < r
        capped.append(within.sum(dim=1) > max_num_neighbors)
        nearest_distance, nearest = distance.topk(k, dim=1, largest=False)
        keep = nearest_distance < r
        sources.append(query[:, None].expand_as(nearest)[keep])
        targets.append(nearest[keep])

    return torch.cat(sources), torch.cat(targets), torch.cat(capped)


def _orient_unique_edges(
    source: Tensor, target: Tensor, num_hits: int, pos: Tensor | None
) -> Tensor:
    # Collapse (i, j) and (j, i) into one pair (low, high) by index.
    low = torch.minimum(source, target)
    high = torch.maximum(source, target)
    keys = torch.unique(low * num_hits + high)
    low, high = keys // num_hits, keys % num_hits

    if pos is not None:
        radius = torch.hypot(pos[:, 0], pos[:, 1]).to(low.device)
        flip = radius[high] < radius[low]
        low, high = torch.where(flip, high, low), torch.where(flip, low, high)

    edge_index = torch.stack([low, high], dim=0)
    order = torch.argsort(edge_index[0] * num_hits + edge_index[1])
    return edge_index[:, order]
