import pytest
import torch
from torch_geometric.data import Data

from baselines.exatrkx import FilterMLP, sample_filter_edges, train_filter


def test_filter_mlp_output_shape():
    torch.manual_seed(0)
    model = FilterMLP(5, 4, hidden=16, num_layers=2)
    x = torch.randn(6, 5)
    edge_index = torch.tensor([[0, 1, 2], [3, 4, 5]])
    assert model(x, edge_index, torch.randn(3, 4)).shape == (3,)
    assert model(x, torch.empty(2, 0, dtype=torch.long), torch.empty(0, 4)).shape == (0,)


def test_filter_mlp_without_edge_features():
    model = FilterMLP(5, 0, hidden=8)
    assert model(torch.randn(3, 5), torch.tensor([[0], [2]])).shape == (1,)


def test_filter_mlp_invalid_inputs():
    model = FilterMLP(5, 4, hidden=8)
    with pytest.raises(ValueError, match="'edge_attr' of shape \\[1, 4\\], got None"):
        model(torch.randn(3, 5), torch.tensor([[0], [2]]))
    with pytest.raises(ValueError, match="node_in >= 1"):
        FilterMLP(0, 4)


def test_sample_filter_edges_hard_and_random():
    scores = torch.tensor([0.9, 0.1, 0.8, 0.3, 0.2, 0.7])
    y = torch.tensor([True, False, False, False, False, False])
    # Two false edges for one true edge, both the hardest: 2 (0.8) and 5 (0.7).
    assert sample_filter_edges(scores, y, 2.0, hard_fraction=1.0).tolist() == [0, 2, 5]

    generator = torch.Generator().manual_seed(0)
    chosen = sample_filter_edges(scores, y, 2.0, 0.5, generator).tolist()
    assert len(chosen) == 3
    assert chosen[:2] == [0, 2]
    assert chosen[2] in (1, 3, 4, 5)


def test_sample_filter_edges_limits():
    y = torch.tensor([True, False, False])
    # More false edges requested than exist: all are used.
    assert sample_filter_edges(torch.zeros(3), y, 10.0).tolist() == [0, 1, 2]
    # No true edge: still one false edge, so the step has a signal.
    assert sample_filter_edges(torch.tensor([0.1, 0.5]), torch.tensor([False, False]), 3.0, 1.0).tolist() == [1]
    with pytest.raises(ValueError, match="'negative_ratio' > 0"):
        sample_filter_edges(torch.zeros(3), y, 0.0)


def test_train_filter_learns_labels():
    # The label of an edge is the sign of its first edge feature.
    graphs = []
    generator = torch.Generator().manual_seed(0)
    for _ in range(4):
        edge_attr = torch.randn(80, 4, generator=generator)
        graphs.append(
            Data(
                x=torch.randn(20, 5, generator=generator),
                edge_index=torch.randint(20, (2, 80), generator=generator),
                edge_attr=edge_attr,
                edge_y=edge_attr[:, 0] > 0,
            )
        )
    torch.manual_seed(0)
    model = FilterMLP(5, 4, hidden=32, num_layers=2)
    summary = train_filter(model, graphs, epochs=25, lr=3e-3, negative_ratio=1.0)

    with torch.no_grad():
        correct = [(model(g.x, g.edge_index, g.edge_attr) > 0) == g.edge_y for g in graphs]
    assert summary["steps"] == 100
    assert torch.cat(correct).float().mean() > 0.9
    assert not model.training


def test_train_filter_needs_edges():
    graph = Data(
        x=torch.randn(3, 5),
        edge_index=torch.empty(2, 0, dtype=torch.long),
        edge_attr=torch.empty(0, 4),
        edge_y=torch.empty(0, dtype=torch.bool),
    )
    with pytest.raises(ValueError, match="at least one training graph with edges"):
        train_filter(FilterMLP(5, 4, hidden=8), [graph])
