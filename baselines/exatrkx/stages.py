"""Glue between the pipeline stages: inputs, candidate graphs, filtering, scoring.

Each function takes the tracker's :class:`~baselines.exatrkx.config.ExaTrkXConfig`
or the values it needs, so :class:`~baselines.exatrkx.ExaTrkXTracker` only
wires the stages together.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data

from baselines.exatrkx.config import ExaTrkXConfig
from baselines.exatrkx.edge_counts import EdgeCounts, count_edges
from baselines.exatrkx.features import edge_features, hit_features
from baselines.exatrkx.filter import FilterMLP
from baselines.exatrkx.graph import build_radius_graph
from baselines.exatrkx.interaction_network import (
    InteractionNetwork,
    average_reverse_scores,
)
from baselines.exatrkx.targets import TargetRule
from baselines.exatrkx.truth import edge_truth, track_order, truth_edges


def event_inputs(
    event: Data,
    config: ExaTrkXConfig,
    target_rule: TargetRule,
    device: torch.device,
    with_truth: bool = True,
) -> Data:
    """Collect the node features of an event and, for training and metrics, its truth.

    Returns:
        A graph with node features ``x`` and ``pos`` in cm, and with
        :obj:`with_truth` also ``particle_id``, the truth edges
        ``true_edge_index`` (in the order of ``config.order_rule``) and the
        boolean ``target_hit`` of the target rule.
    """
    x = hit_features(event, config.r_scale, config.z_scale)
    if config.num_x_features > 0:
        event_x = getattr(event, "x", None)
        if event_x is None or event_x.size(-1) < config.num_x_features:
            raise ValueError(
                f"Expected 'x' with at least {config.num_x_features} columns "
                f"because num_x_features={config.num_x_features}, got "
                f"{None if event_x is None else list(event_x.shape)}"
            )
        x = torch.cat([x, event_x[:, : config.num_x_features].float()], dim=1)

    inputs = Data(x=x.to(device), pos=event.pos.float().to(device))
    if with_truth:
        if getattr(event, "particle_id", None) is None:
            raise ValueError("Expected events with 'particle_id' for training and metrics")
        order = track_order(event, config.order_rule, config.magnetic_field)
        inputs.particle_id = event.particle_id.to(device)
        inputs.true_edge_index = truth_edges(event.particle_id, event.pos, order).to(device)
        inputs.target_hit = target_rule.hit_mask(event).to(device)
    return inputs


@torch.no_grad()
def candidate_graph(inputs: Data, embedding: Tensor, config: ExaTrkXConfig) -> Data:
    """Build the radius graph of the embedded hits with its node and edge features.

    Node features are the inputs followed by the embedding, and edge features
    those of :func:`~baselines.exatrkx.features.edge_features`. Truth from
    :func:`event_inputs` is carried over, and ``edge_y`` marks edges joining
    hits of the same particle.
    """
    graph = build_radius_graph(
        embedding,
        config.radius,
        config.max_num_neighbors,
        pos=inputs.pos,
        backend=config.graph_backend,
    )
    edge_attr = edge_features(
        inputs.pos, embedding, graph.edge_index, config.r_scale, config.z_scale
    )
    data = Data(
        x=torch.cat([inputs.x, embedding], dim=1),
        edge_index=graph.edge_index,
        edge_attr=edge_attr,
        num_capped_hits=graph.num_capped_hits,
    )
    if inputs.get("particle_id") is not None:
        data.particle_id = inputs.particle_id
        data.true_edge_index = inputs.true_edge_index
        data.target_hit = inputs.target_hit
        data.edge_y = edge_truth(graph.edge_index, inputs.particle_id)
    return data


@torch.no_grad()
def filter_edges(
    graph: Data, model: FilterMLP | None, cut: float
) -> tuple[Data, Tensor]:
    """Keep the edges the filter scores above :obj:`cut`, every edge without a filter.

    Sets ``graph.filter_scores`` (probabilities, all 1 without a filter).

    Returns:
        The smaller graph and the indices of its edges in :obj:`graph`.
    """
    num_edges = graph.edge_index.size(1)
    if model is None or num_edges == 0:
        graph.filter_scores = torch.ones(num_edges, device=graph.x.device)
    else:
        logits = model(graph.x, graph.edge_index, graph.edge_attr)
        graph.filter_scores = torch.sigmoid(logits)
    kept = torch.nonzero(graph.filter_scores > cut).view(-1)

    filtered = graph.clone()
    filtered.edge_index = graph.edge_index[:, kept]
    filtered.edge_attr = graph.edge_attr[kept]
    filtered.filter_scores = graph.filter_scores[kept]
    if graph.get("edge_y") is not None:
        filtered.edge_y = graph.edge_y[kept]
    return filtered, kept


def gnn_training_graph(graph: Data, non_target_weight: float, undirected: bool) -> Data:
    """Make the training graph of the edge classifier.

    True edges of non-target particles weigh :obj:`non_target_weight` in the
    loss and every other edge weighs 1. With :obj:`undirected`, every edge is
    added in both directions (see :func:`with_reverse_edges`).
    """
    data = Data(
        x=graph.x,
        edge_index=graph.edge_index,
        edge_attr=graph.edge_attr,
        edge_y=graph.edge_y,
    )
    non_target = graph.edge_y & ~graph.target_hit[graph.edge_index[0]]
    data.edge_weight = torch.where(non_target, non_target_weight, 1.0)
    if undirected:
        data = with_reverse_edges(data)
    return data


def score_edges(model: InteractionNetwork, graph: Data, undirected: bool) -> Tensor:
    """Return the edge classifier's probability for each edge of :obj:`graph`.

    With :obj:`undirected`, the classifier scores both directions of every
    edge and each edge gets the mean of its two scores.
    """
    if not undirected:
        logits = model(graph.x, graph.edge_index, graph.edge_attr)
        return torch.sigmoid(logits)
    both = with_reverse_edges(graph)
    scores = torch.sigmoid(model(both.x, both.edge_index, both.edge_attr))
    scores = average_reverse_scores(both.edge_index, scores, graph.num_nodes)
    return scores[: graph.edge_index.size(1)]


def with_reverse_edges(graph: Data) -> Data:
    r"""Append every edge reversed, after the original ones.

    Reversed edge features change sign in :math:`r`, :math:`\phi` and
    :math:`z` and keep the embedding distance. ``edge_y`` and ``edge_weight``
    are repeated.
    """
    reverse_attr = graph.edge_attr.clone()
    reverse_attr[:, :3] = -reverse_attr[:, :3]
    both = graph.clone()
    both.edge_index = torch.cat([graph.edge_index, graph.edge_index.flip(0)], dim=1)
    both.edge_attr = torch.cat([graph.edge_attr, reverse_attr], dim=0)
    for name in ("edge_y", "edge_weight"):
        if graph.get(name) is not None:
            both[name] = torch.cat([graph[name], graph[name]], dim=0)
    return both


def count_target_edges(graphs: Sequence[Data]) -> EdgeCounts:
    """Sum the edge counts of graphs from :func:`candidate_graph`, against target truth edges."""
    total = EdgeCounts(0, 0, 0, 0)
    for graph in graphs:
        targets = graph.true_edge_index[:, graph.target_hit[graph.true_edge_index[0]]]
        total = total + count_edges(graph.edge_index, graph.particle_id, targets)
    return total
