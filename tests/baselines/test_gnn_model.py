import pytest
import torch

import baselines.gnn.model as model_module
from baselines.gnn import PointGNN, knn_graph


def test_knn_graph_hand_built():
    pos = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [3.0, 0.0, 0.0], [6.0, 0.0, 0.0]])
    # Nearest other hit: 0 -> 1, 1 -> 0, 2 -> 1, 3 -> 2; edges point to the query.
    assert knn_graph(pos, 1).tolist() == [[1, 0, 1, 2], [0, 1, 2, 3]]


def test_knn_graph_duplicates_no_self_loops():
    pos = torch.tensor([[1.0, 2.0, 3.0]] * 3 + [[9.0, 0.0, 0.0]])
    source, target = knn_graph(pos, 2)
    assert not (source == target).any()
    assert torch.bincount(target, minlength=4).tolist() == [2, 2, 2, 2]
    assert set(source[target < 3].tolist()) == {0, 1, 2}


def test_knn_graph_small_events():
    pos = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    assert knn_graph(pos, 5).tolist() == [[1, 0], [0, 1]]
    assert knn_graph(pos[:1], 5).shape == (2, 0)
    assert knn_graph(torch.empty(0, 3), 5).shape == (2, 0)
    with pytest.raises(ValueError, match="'k' >= 1, got 0"):
        knn_graph(pos, 0)


def test_knn_graph_without_kdtree_backend_matches(monkeypatch):
    # torch_cluster.knn contract: each query's k nearest points, itself included.
    class FakeTorchCluster:
        @staticmethod
        def knn(x, y, k):
            nearest = torch.cdist(y, x).topk(k, dim=1, largest=False).indices
            query = torch.arange(y.size(0))[:, None].expand_as(nearest)
            return torch.stack([query.reshape(-1), nearest.reshape(-1)])

    pos = torch.rand(50, 3, generator=torch.Generator().manual_seed(0))
    reference = knn_graph(pos, 4)
    monkeypatch.setattr(model_module, "torch_cluster", FakeTorchCluster())
    edge_index = knn_graph(pos, 4)
    assert torch.equal(edge_index[1], reference[1])
    for hit in range(50):
        assert set(edge_index[0, edge_index[1] == hit].tolist()) == set(
            reference[0, reference[1] == hit].tolist()
        )


@pytest.mark.parametrize("conv", ["sage", "gat"])
def test_point_gnn_output_shape(conv):
    torch.manual_seed(0)
    model = PointGNN(4, 5, hidden=16, num_layers=2, conv=conv, heads=4)
    x = torch.randn(10, 4)
    edge_index = knn_graph(torch.randn(10, 3), 3)
    assert model(x, edge_index).shape == (10, 5)
    assert model(x[:0], torch.empty(2, 0, dtype=torch.long)).shape == (0, 5)


def test_point_gnn_invalid_arguments():
    with pytest.raises(ValueError, match="'conv' in"):
        PointGNN(4, 5, conv="gin")
    with pytest.raises(ValueError, match="multiple of 'heads'"):
        PointGNN(4, 5, hidden=10, conv="gat", heads=4)
    with pytest.raises(ValueError, match="num_classes >= 2"):
        PointGNN(4, 1)
