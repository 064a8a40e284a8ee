import pytest
import torch
from torch_geometric.data import Data

from baselines.exatrkx import (
    EmbeddingMLP,
    build_radius_graph,
    count_edges,
    hinge_loss,
    hit_features,
    sample_training_pairs,
    train_metric_learning,
    truth_edges,
)


def test_embedding_mlp_unit_norm():
    torch.manual_seed(0)
    model = EmbeddingMLP(3, hidden=16, num_layers=2, emb_dim=8)
    embedding = model(torch.randn(10, 3))
    assert embedding.shape == (10, 8)
    assert torch.allclose(embedding.norm(dim=1), torch.ones(10), atol=1e-6)


def test_embedding_mlp_invalid_size():
    with pytest.raises(ValueError, match="emb_dim=1"):
        EmbeddingMLP(3, emb_dim=1)


def test_hinge_loss_hand_built():
    embedding = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    edge_index = torch.tensor([[0, 0, 1], [1, 2, 2]])
    y = torch.tensor([False, True, True])
    # Positives: squared distances 0 and 2, mean 1, weight 2. Negative:
    # max(0, 2^2 - 2) = 2.
    loss = hinge_loss(embedding, edge_index, y, margin=2.0, positive_weight=2.0)
    assert loss.item() == pytest.approx(4.0)


def test_hinge_loss_negative_beyond_margin():
    embedding = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    loss = hinge_loss(embedding, torch.tensor([[0], [1]]), torch.tensor([False]), 1.0)
    assert loss.item() == 0.0


def test_sample_training_pairs_labels():
    particle_id = torch.tensor([4, 4, 9, 9, 0])
    embedding = torch.tensor(
        [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]
    )
    true_edge_index = torch.tensor([[0, 2], [1, 3]])
    generator = torch.Generator().manual_seed(0)
    edge_index, y = sample_training_pairs(
        embedding, particle_id, true_edge_index, 0.5, 4, 10, generator
    )
    assert edge_index[:, :2].tolist() == true_edge_index.tolist()
    # The close pairs include the noise hit 4 next to hits 2 and 3.
    pairs = set(map(tuple, edge_index.t().tolist()))
    assert {(2, 4), (3, 4)} <= pairs
    assert not (edge_index[0] == edge_index[1]).any()
    same = particle_id[edge_index[0]] == particle_id[edge_index[1]]
    assert torch.equal(y, same & (particle_id[edge_index[0]] != 0))


def test_train_metric_learning_separates_tracks(synthetic_events):
    events = [
        Data(x=hit_features(event), pos=event.pos, particle_id=event.particle_id)
        for event in synthetic_events(4, num_particles=8, num_noise=10)
    ]
    torch.manual_seed(0)
    model = EmbeddingMLP(3, hidden=64, num_layers=3, emb_dim=8)

    def graph_counts():
        with torch.no_grad():
            event = events[0]
            edge_index = build_radius_graph(model(event.x), 0.1, 8, event.pos)[0]
        return count_edges(
            edge_index, event.particle_id, truth_edges(event.particle_id, event.pos)
        )

    before = graph_counts()
    summary = train_metric_learning(model, events, epochs=15, lr=3e-3)
    after = graph_counts()

    assert summary["steps"] == 60
    assert after.efficiency > 0.8
    assert after.purity > 0.8
    assert after.purity > before.purity
