import pytest
import torch
from torch_geometric.data import Data

from baselines.exatrkx import ExaTrkXConfig, ExaTrkXPrediction, StageMetrics, TargetRule
from baselines.exatrkx.stages import (
    candidate_graph,
    event_inputs,
    filter_edges,
    gnn_training_graph,
    with_reverse_edges,
)


def _event() -> Data:
    # Particle 1 has hits 0, 1, 2 at r = 40, 41, 42 cm; particle 2 has hits 3
    # and 4 at r = 40, 41 cm; hit 5 is noise.
    pos = torch.tensor(
        [
            [40.0, 0.0, 0.0],
            [41.0, 0.0, 0.0],
            [42.0, 0.0, 0.0],
            [0.0, 40.0, 0.0],
            [0.0, 41.0, 0.0],
            [-50.0, 0.0, 0.0],
        ]
    )
    return Data(pos=pos, particle_id=torch.tensor([1, 1, 1, 2, 2, 0]))


def test_event_inputs_truth():
    config = ExaTrkXConfig(target_min_hits=3)
    inputs = event_inputs(_event(), config, config.target_rule(), torch.device("cpu"))
    assert inputs.x.shape == (6, 3)
    assert inputs.true_edge_index.tolist() == [[0, 1, 3], [1, 2, 4]]
    assert inputs.target_hit.tolist() == [True, True, True, False, False, False]
    bare = event_inputs(_event(), config, config.target_rule(), torch.device("cpu"), with_truth=False)
    assert bare.get("particle_id") is None


def test_candidate_graph_known_edges():
    config = ExaTrkXConfig(radius=0.5, max_num_neighbors=4)
    inputs = event_inputs(_event(), config, TargetRule(), torch.device("cpu"))
    # Hand-made 2-dimensional embedding: hits 0, 1, 2 and 5 on one line
    # (5 close to 2), hits 3, 4 far away.
    embedding = torch.tensor([[0.0, 0.0], [0.3, 0.0], [0.6, 0.0], [5.0, 5.0], [5.2, 5.0], [0.8, 0.0]])
    graph = candidate_graph(inputs, embedding, config)
    # Pairs closer than 0.5: (0, 1), (1, 2), (2, 5) and (3, 4); hits 1 and 5
    # are exactly 0.5 apart, and the radius is exclusive. Edges point from
    # the smaller radius, and hit 5 (r = 50 cm) is outermost.
    edges = [tuple(edge) for edge in graph.edge_index.T.tolist()]
    assert edges == [(0, 1), (1, 2), (2, 5), (3, 4)]
    assert graph.edge_y.tolist() == [True, True, False, True]
    assert graph.x.shape == (6, 5)
    assert graph.edge_attr.shape == (4, 4)


def test_filter_edges_without_model_keeps_all():
    graph = Data(
        x=torch.zeros(3, 2),
        edge_index=torch.tensor([[0, 1], [1, 2]]),
        edge_attr=torch.zeros(2, 4),
        edge_y=torch.tensor([True, False]),
    )
    filtered, kept = filter_edges(graph, None, 0.5)
    assert kept.tolist() == [0, 1]
    assert graph.filter_scores.tolist() == [1.0, 1.0]
    assert torch.equal(filtered.edge_index, graph.edge_index)


def test_gnn_training_graph_weights_and_reverse():
    graph = Data(
        x=torch.zeros(4, 2),
        edge_index=torch.tensor([[0, 2, 1], [1, 3, 2]]),
        edge_attr=torch.tensor([[1.0, 2.0, 3.0, 0.5]] * 3),
        edge_y=torch.tensor([True, True, False]),
        target_hit=torch.tensor([True, True, False, False]),
    )
    # Edge (2, 3) is true but of a non-target particle.
    data = gnn_training_graph(graph, 0.25, undirected=False)
    assert data.edge_weight.tolist() == [1.0, 0.25, 1.0]

    both = with_reverse_edges(data)
    assert both.edge_index.tolist() == [[0, 2, 1, 1, 3, 2], [1, 3, 2, 0, 2, 1]]
    assert both.edge_attr[3].tolist() == [-1.0, -2.0, -3.0, 0.5]
    assert both.edge_weight.tolist() == [1.0, 0.25, 1.0, 1.0, 0.25, 1.0]


def test_stage_metrics_hand_built():
    # Truth edges (0, 1), (1, 2) of target particle 1 and (3, 4) of
    # non-target particle 2. The graph has (0, 1), (1, 2), (3, 4), (2, 5).
    truth = Data(
        particle_id=torch.tensor([1, 1, 1, 2, 2, 0]),
        true_edge_index=torch.tensor([[0, 1, 3], [1, 2, 4]]),
        target_hit=torch.tensor([True, True, True, False, False, False]),
    )
    prediction = ExaTrkXPrediction(
        embedding=torch.zeros(6, 2),
        edge_index=torch.tensor([[0, 1, 3, 2], [1, 2, 4, 5]]),
        filter_scores=torch.tensor([0.9, 0.9, 0.9, 0.01]),
        edge_scores=torch.tensor([0.8, 0.2, 0.9, 0.0]),
        labels=torch.zeros(6, dtype=torch.long),
        num_capped_hits=3,
        seconds={"gnn": 0.5},
    )
    metrics = StageMetrics(filter_cut=0.05, edge_score_cut=0.5)
    metrics.update(prediction, truth)
    result = metrics.compute("val_")
    assert result["val_graph_efficiency"] == 1.0
    assert result["val_graph_purity"] == 0.75
    assert result["val_filter_efficiency"] == 1.0
    assert result["val_filter_purity"] == 1.0
    # The GNN keeps (0, 1) and (3, 4): one of the two target truth edges.
    assert result["val_edge_efficiency"] == 0.5
    assert result["val_edge_purity"] == 1.0
    assert result["val_capped_hit_fraction"] == 0.5
    assert result["val_gnn_seconds"] == pytest.approx(0.5)
