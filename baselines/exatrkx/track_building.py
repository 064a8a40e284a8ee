"""Track building from scored edges: connected components and a walkthrough."""

from __future__ import annotations

import networkx as nx
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
    _check_inputs(num_nodes, edge_index, scores)
    device = edge_index.device
    if num_nodes == 0:
        return torch.empty(0, dtype=torch.long, device=device)

    selected = edge_index[:, scores > cut].cpu().numpy()
    labels = _component_labels(num_nodes, selected)
    return torch.from_numpy(_relabel_by_first_hit(labels)).to(device)


def _check_inputs(num_nodes: int, edge_index: Tensor, scores: Tensor) -> None:
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


def _component_labels(num_nodes: int, selected: np.ndarray) -> np.ndarray:
    adjacency = sp.coo_matrix(
        (np.ones(selected.shape[1], dtype=np.int8), (selected[0], selected[1])),
        shape=(num_nodes, num_nodes),
    )
    _, labels = _scipy_components(adjacency, directed=False)
    return labels


def _relabel_by_first_hit(labels: np.ndarray) -> np.ndarray:
    # Number the tracks 0, 1, ... in the order of each track's first hit.
    _, first_hit, dense_labels = np.unique(
        labels, return_index=True, return_inverse=True
    )
    rank = np.empty_like(first_hit)
    rank[np.argsort(first_hit)] = np.arange(first_hit.size)
    return rank[dense_labels.reshape(-1)].astype(np.int64)


def walkthrough(
    num_nodes: int,
    edge_index: Tensor,
    scores: Tensor,
    cut: float = 0.5,
    add_cut: float = 0.9,
    order: Tensor | None = None,
) -> Tensor:
    r"""Label hits by walking through branching components of scored edges.

    Edges with score strictly greater than :obj:`cut` are kept and point from
    the hit with the smaller :obj:`order` key to the larger one (ties by
    index), or as given when :obj:`order` is not set. A connected component
    in which no hit has two kept incoming or two kept outgoing edges is one
    track, as in :func:`connected_components`. Each branching component is
    a directed acyclic graph (:class:`networkx.DiGraph`) split into tracks
    one at a time:

    1. Start at the innermost hit not yet in a track that has no incoming
       edge from such hits.
    2. From each hit follow its best-scoring outgoing edge, and also every
       other outgoing edge scoring above :obj:`add_cut` as a second branch.
    3. Keep the longest of these paths (ties go to the larger summed score)
       as a track and remove its hits from the component.

    Hits that no path takes become single-hit tracks, so every hit gets
    exactly one label.

    Args:
        num_nodes (int): Number of hits :math:`|V|`.
        edge_index (torch.Tensor): Candidate edges.
        scores (torch.Tensor): Edge scores, for example probabilities.
        cut (float, optional): Score an edge must exceed to be kept.
            (default: :obj:`0.5`)
        add_cut (float, optional): Score an edge other than a hit's best one
            must exceed to open a second branch. (default: :obj:`0.9`)
        order (torch.Tensor, optional): Key that increases along a track,
            for example the transverse radius. (default: :obj:`None`)

    Shapes:
        - **input:** edge_index :math:`(2, |E|)`, scores :math:`(|E|)`,
          order :math:`(|V|)`
        - **output:** :math:`(|V|)`

    Returns:
        A long tensor with the track label of each hit, numbered from 0 in
        the order of each track's first hit.

    Raises:
        ValueError: If :obj:`order` is not set and the kept edges contain a
            directed cycle.
    """
    _check_inputs(num_nodes, edge_index, scores)
    if add_cut < cut:
        raise ValueError(
            f"Expected 'add_cut' >= 'cut', got add_cut={add_cut} and cut={cut}"
        )
    if order is not None and order.shape != (num_nodes,):
        raise ValueError(
            f"Expected 'order' of shape [{num_nodes}], got {list(order.shape)}"
        )
    device = edge_index.device
    if num_nodes == 0:
        return torch.empty(0, dtype=torch.long, device=device)

    keep = scores > cut
    source, target = edge_index[:, keep].cpu().numpy()
    kept_scores = scores[keep].detach().cpu().double().numpy()
    rank = np.arange(num_nodes)
    if order is not None:
        # Position of each hit in (order, index) order: a strict total order,
        # so the oriented edges cannot form a cycle.
        rank[np.lexsort((np.arange(num_nodes), order.cpu().numpy()))] = np.arange(
            num_nodes
        )
        flip = rank[source] > rank[target]
        source, target = np.where(flip, target, source), np.where(flip, source, target)

    labels = _component_labels(num_nodes, np.stack([source, target]))
    in_degree = np.bincount(target, minlength=num_nodes)
    out_degree = np.bincount(source, minlength=num_nodes)
    branching = np.unique(labels[(in_degree > 1) | (out_degree > 1)])

    next_label = int(labels.max()) + 1 if labels.size else 0
    for component in branching.tolist():
        inside = labels[source] == component
        graph = nx.DiGraph()
        graph.add_nodes_from(np.flatnonzero(labels == component).tolist())
        graph.add_weighted_edges_from(
            zip(source[inside].tolist(), target[inside].tolist(), kept_scores[inside])
        )
        if order is None and not nx.is_directed_acyclic_graph(graph):
            raise ValueError(
                "Expected the kept edges to form a directed acyclic graph, but "
                f"component {component} has a cycle; pass 'order' to orient "
                "the edges"
            )
        for path in _walk_component(graph, rank, add_cut):
            labels[path] = next_label
            next_label += 1

    return torch.from_numpy(_relabel_by_first_hit(labels)).to(device)


def _walk_component(
    graph: nx.DiGraph, rank: np.ndarray, add_cut: float
) -> list[list[int]]:
    paths = []
    while graph.number_of_nodes() > 0:
        starts = [node for node, degree in graph.in_degree() if degree == 0]
        start = min(starts, key=lambda node: rank[node])
        path = _best_path(graph, start, add_cut)
        paths.append(path)
        graph.remove_nodes_from(path)
    return paths


def _best_path(graph: nx.DiGraph, start: int, add_cut: float) -> list[int]:
    # Edges a walk may follow: each hit's best outgoing edge, and its other
    # outgoing edges above add_cut.
    def branches(node: int) -> list[int]:
        out = sorted(
            graph.out_edges(node, data="weight"), key=lambda edge: -edge[2]
        )
        return [
            head
            for position, (_, head, score) in enumerate(out)
            if position == 0 or score > add_cut
        ]

    allowed: dict[int, list[int]] = {}
    stack = [start]
    while stack:
        node = stack.pop()
        if node not in allowed:
            allowed[node] = branches(node)
            stack.extend(allowed[node])

    # Longest path from each reachable hit, in reverse topological order of
    # the allowed edges: (number of hits, summed score, next hit).
    best: dict[int, tuple[int, float, int | None]] = {}
    subgraph = nx.DiGraph((node, head) for node in allowed for head in allowed[node])
    subgraph.add_node(start)
    for node in reversed(list(nx.topological_sort(subgraph))):
        best[node] = (1, 0.0, None)
        for head in allowed[node]:
            length, total, _ = best[head]
            candidate = (length + 1, total + graph[node][head]["weight"], head)
            if candidate[:2] > best[node][:2]:
                best[node] = candidate

    path = [start]
    while best[path[-1]][2] is not None:
        path.append(best[path[-1]][2])
    return path
