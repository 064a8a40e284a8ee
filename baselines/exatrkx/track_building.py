"""Track building: connected components of the edges the classifier keeps."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components as _scipy_components
from torch import Tensor


def connected_components(
    num_nodes: int, edge_index: Tensor, scores: Tensor, cut: float = 0.5
) -> Tensor:
    r"""Label hits by the connected components of edges scoring above a cut.

    Edges with score strictly greater than :obj:`cut` are kept and treated as
    undirected. Every hit gets a label, so a hit without kept edges is a track
    of its own. Labels run from 0 to the number of components minus one, in
    order of each component's first hit.

    Args:
        num_nodes (int): Number of hits :math:`|V|`.
        edge_index (torch.Tensor): Candidate edges.
        scores (torch.Tensor): Edge scores, for example probabilities.
        cut (float, optional): Score an edge must exceed to be kept.
            (default: :obj:`0.5`)

    Shapes:
        - **input:** edge_index :math:`(2, |E|)`, scores :math:`(|E|)`
        - **output:** :math:`(|V|)`

    Returns:
        A long tensor with the track label of each hit.
    """
    if num_nodes < 0:
        raise ValueError(f"Expected 'num_nodes' >= 0, got {num_nodes}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(
            f"Expected 'edge_index' of shape [2, num_edges], got "
            f"{list(edge_index.shape)}"
        )
    if scores.shape != (edge_index.size(1),):
        raise ValueError(
            f"Expected 'scores' of shape [{edge_index.size(1)}], got "
            f"{list(scores.shape)}"
        )
    if edge_index.numel() > 0 and (
        edge_index.min() < 0 or edge_index.max() >= num_nodes
    ):
        raise ValueError(
            f"Expected 'edge_index' entries in [0, {num_nodes - 1}], got values "
            f"in [{int(edge_index.min())}, {int(edge_index.max())}]"
        )
    device = edge_index.device
    if num_nodes == 0:
        return torch.empty(0, dtype=torch.long, device=device)

    selected = edge_index[:, scores > cut].cpu().numpy()
    adjacency = sp.coo_matrix(
        (np.ones(selected.shape[1], dtype=np.int8), (selected[0], selected[1])),
        shape=(num_nodes, num_nodes),
    )
    _, labels = _scipy_components(adjacency, directed=False)

    # Relabel so that components are numbered by their first hit.
    _, first_hit, dense_labels = np.unique(
        labels, return_index=True, return_inverse=True
    )
    rank = np.empty_like(first_hit)
    rank[np.argsort(first_hit)] = np.arange(first_hit.size)
    return torch.from_numpy(rank[dense_labels].astype(np.int64)).to(device)
