"""Truth edges of an event and truth labels of candidate edges."""

from __future__ import annotations

import torch
from torch import Tensor


def truth_edges(particle_id: Tensor, pos: Tensor) -> Tensor:
    r"""Return the truth edges of an event.

    A truth edge joins two hits of the same particle that are consecutive when
    the particle's hits are sorted by transverse radius :math:`r`. Hits with
    equal :math:`r` keep their index order. Noise hits (``particle_id == 0``)
    are never in a truth edge. Each edge points from the inner hit to the
    outer one.

    Args:
        particle_id (torch.Tensor): Truth particle of each hit, 0 for noise.
        pos (torch.Tensor): Hit positions :math:`(x, y, z)` in cm.

    Shapes:
        - **input:** particle_id :math:`(|V|)`, pos :math:`(|V|, 3)`
        - **output:** edge_index :math:`(2, |E|)`

    Returns:
        A long tensor of truth edges, sorted by particle and then by radius.
    """
    _check_particle_id(particle_id)
    if pos.dim() != 2 or pos.size(1) != 3 or pos.size(0) != particle_id.numel():
        raise ValueError(
            f"Expected 'pos' of shape [{particle_id.numel()}, 3], got "
            f"{list(pos.shape)}"
        )
    device = particle_id.device
    if particle_id.numel() == 0:
        return torch.empty(2, 0, dtype=torch.long, device=device)

    # Sort by radius, then stably by particle: hits of a particle end up next
    # to each other in radial order, ties keeping their index order.
    radius = torch.hypot(pos[:, 0], pos[:, 1])
    by_radius = torch.sort(radius, stable=True).indices
    by_particle = torch.sort(particle_id[by_radius], stable=True).indices
    order = by_radius[by_particle]

    inner, outer = order[:-1], order[1:]
    same_particle = particle_id[inner] == particle_id[outer]
    keep = same_particle & (particle_id[inner] != 0)
    return torch.stack([inner[keep], outer[keep]], dim=0)


def edge_truth(
    edge_index: Tensor,
    particle_id: Tensor,
    true_edge_index: Tensor | None = None,
) -> Tensor:
    r"""Label candidate edges as true or false.

    By default an edge is true when both of its hits belong to the same
    non-noise particle. When :obj:`true_edge_index` is given, an edge is true
    only when it matches one of those edges in either direction (for example
    the consecutive-hit edges of :func:`truth_edges`).

    Args:
        edge_index (torch.Tensor): Candidate edges.
        particle_id (torch.Tensor): Truth particle of each hit, 0 for noise.
        true_edge_index (torch.Tensor, optional): If given, the only edges
            that count as true. (default: :obj:`None`)

    Shapes:
        - **input:** edge_index :math:`(2, |E|)`, particle_id :math:`(|V|)`,
          true_edge_index :math:`(2, |E_{true}|)`
        - **output:** :math:`(|E|)`

    Returns:
        A boolean tensor with one label per candidate edge.
    """
    _check_particle_id(particle_id)
    _check_edge_index(edge_index, particle_id.numel(), "edge_index")
    if true_edge_index is None:
        source, target = edge_index
        same_particle = particle_id[source] == particle_id[target]
        return same_particle & (particle_id[source] != 0)

    _check_edge_index(true_edge_index, particle_id.numel(), "true_edge_index")
    num_hits = particle_id.numel()
    candidate_keys = _undirected_keys(edge_index, num_hits)
    true_keys = _undirected_keys(true_edge_index, num_hits)
    return torch.isin(candidate_keys, true_keys)


def _undirected_keys(edge_index: Tensor, num_hits: int) -> Tensor:
    # One integer per unordered hit pair, so that (i, j) and (j, i) match.
    low = torch.minimum(edge_index[0], edge_index[1])
    high = torch.maximum(edge_index[0], edge_index[1])
    return low * num_hits + high


def _check_particle_id(particle_id: Tensor) -> None:
    if particle_id.dim() != 1:
        raise ValueError(
            f"Expected 'particle_id' of shape [num_hits], got "
            f"{list(particle_id.shape)}"
        )


def _check_edge_index(edge_index: Tensor, num_hits: int, name: str) -> None:
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(
            f"Expected '{name}' of shape [2, num_edges], got "
            f"{list(edge_index.shape)}"
        )
    if edge_index.numel() > 0 and (
        edge_index.min() < 0 or edge_index.max() >= num_hits
    ):
        raise ValueError(
            f"Expected '{name}' entries in [0, {num_hits - 1}], got values in "
            f"[{int(edge_index.min())}, {int(edge_index.max())}]"
        )
