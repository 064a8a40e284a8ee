import pytest
import torch
from torch_geometric.data import Data

from baselines.exatrkx import (
    InteractionNetwork,
    average_reverse_scores,
    train_edge_classifier,
)
from baselines.exatrkx.interaction_network import EdgeMLP


def _graph(num_nodes: int = 6, num_edges: int = 10, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, 5, generator=generator)
    edge_index = torch.randint(num_nodes, (2, num_edges), generator=generator)
    edge_attr = torch.randn(num_edges, 4, generator=generator)
    return x, edge_index, edge_attr


@pytest.mark.parametrize("aggregation", ["sum", "mean", "max"])
def test_interaction_network_output_shape(aggregation):
    torch.manual_seed(0)
    model = InteractionNetwork(5, 4, hidden=16, num_iterations=3, aggregation=aggregation)
    logits = model(*_graph())
    assert logits.shape == (10,)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("aggregation", ["sum", "mean", "max"])
def test_interaction_network_edge_permutation(aggregation):
    torch.manual_seed(0)
    model = InteractionNetwork(5, 4, hidden=16, num_iterations=3, aggregation=aggregation)
    x, edge_index, edge_attr = _graph()
    permutation = torch.randperm(edge_index.size(1))
    logits = model(x, edge_index, edge_attr)
    permuted = model(x, edge_index[:, permutation], edge_attr[permutation])
    assert torch.allclose(permuted, logits[permutation], atol=1e-5)


def test_interaction_network_zero_edges():
    model = InteractionNetwork(5, 4, hidden=16, num_iterations=2)
    x = torch.randn(3, 5)
    logits = model(x, torch.empty(2, 0, dtype=torch.long), torch.empty(0, 4))
    assert logits.shape == (0,)


def test_interaction_network_invalid_edge_attr():
    model = InteractionNetwork(5, 4, hidden=16, num_iterations=2)
    x, edge_index, _ = _graph()
    with pytest.raises(ValueError, match="'edge_attr' of shape \\[10, 4\\], got \\[10, 3\\]"):
        model(x, edge_index, torch.zeros(10, 3))


def test_interaction_network_invalid_aggregation():
    with pytest.raises(ValueError, match="got 'min'"):
        InteractionNetwork(5, 4, aggregation="min")


def test_edge_mlp_matches_concatenation():
    torch.manual_seed(0)
    mlp = EdgeMLP(hidden=8, num_layers=2)
    h = torch.randn(5, 8)
    e = torch.randn(7, 8)
    edge_index = torch.randint(5, (2, 7))
    concatenated = torch.cat([h[edge_index[0]], h[edge_index[1]], e], dim=-1)
    reference = mlp.rest(mlp.first(concatenated))
    assert torch.allclose(mlp(h, e, edge_index), reference, atol=1e-5)


def test_train_edge_classifier_learns_labels():
    # The label of an edge is the sign of its first feature.
    graphs = []
    for seed in range(4):
        x, edge_index, edge_attr = _graph(num_nodes=20, num_edges=60, seed=seed)
        graphs.append(
            Data(x=x, edge_index=edge_index, edge_attr=edge_attr, edge_y=edge_attr[:, 0] > 0)
        )
    torch.manual_seed(0)
    model = InteractionNetwork(5, 4, hidden=16, num_iterations=2)
    summary = train_edge_classifier(model, graphs, epochs=30, lr=3e-3)

    with torch.no_grad():
        predictions = [model(g.x, g.edge_index, g.edge_attr) > 0 for g in graphs]
    accuracy = torch.cat([p == g.edge_y for p, g in zip(predictions, graphs)]).float().mean()
    assert summary["steps"] == 120
    assert summary["loss"] < 0.3
    assert accuracy > 0.9
    assert not model.training


def test_interaction_network_all_iterations():
    torch.manual_seed(0)
    model = InteractionNetwork(5, 4, hidden=16, num_iterations=3)
    x, edge_index, edge_attr = _graph()
    every = model(x, edge_index, edge_attr, return_all=True)
    assert every.shape == (3, 10)
    assert torch.allclose(every[-1], model(x, edge_index, edge_attr), atol=1e-6)


def test_average_reverse_scores():
    # (0, 1) and (1, 0) average to 0.5; (1, 2) has no reverse and keeps 0.3.
    edge_index = torch.tensor([[0, 1, 1], [1, 0, 2]])
    scores = torch.tensor([0.2, 0.8, 0.3])
    averaged = average_reverse_scores(edge_index, scores, 3)
    assert torch.allclose(averaged, torch.tensor([0.5, 0.5, 0.3]))
    with pytest.raises(ValueError, match="'scores' of shape \\[3\\]"):
        average_reverse_scores(edge_index, scores[:2], 3)


def test_train_edge_classifier_edge_weight_and_all_iterations():
    # Edges whose label contradicts the rule weigh nothing, so the model learns
    # the rule despite them.
    graphs = []
    for seed in range(4):
        x, edge_index, edge_attr = _graph(num_nodes=20, num_edges=60, seed=seed)
        edge_y = edge_attr[:, 0] > 0
        flipped = torch.arange(60) % 5 == 0
        graphs.append(
            Data(
                x=x,
                edge_index=edge_index,
                edge_attr=edge_attr,
                edge_y=edge_y ^ flipped,
                edge_weight=(~flipped).float(),
            )
        )
    torch.manual_seed(0)
    model = InteractionNetwork(5, 4, hidden=16, num_iterations=2)
    train_edge_classifier(model, graphs, epochs=30, lr=3e-3, loss_all_iterations=True)

    with torch.no_grad():
        correct = [
            (model(g.x, g.edge_index, g.edge_attr) > 0) == (g.edge_attr[:, 0] > 0)
            for g in graphs
        ]
    assert torch.cat(correct).float().mean() > 0.9
