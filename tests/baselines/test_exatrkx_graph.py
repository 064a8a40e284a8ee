import pytest
import torch

import baselines.exatrkx.graph as graph_module
from baselines.exatrkx import build_radius_graph

BACKENDS = ["kdtree", "brute_force"]


def _line(*coordinates: float) -> torch.Tensor:
    # Points on a line in a 2-dimensional embedding.
    x = torch.tensor(coordinates)
    return torch.stack([x, torch.zeros_like(x)], dim=1)


def _pos_with_radius(*radii: float) -> torch.Tensor:
    r = torch.tensor(radii)
    return torch.stack([r, torch.zeros_like(r), torch.zeros_like(r)], dim=1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_radius_graph_hand_built(backend):
    embedding = _line(0.0, 0.5, 1.2, 3.0)
    pos = _pos_with_radius(50.0, 40.0, 60.0, 70.0)
    graph = build_radius_graph(embedding, 1.0, 8, pos=pos, backend=backend)
    # Only (0, 1) and (1, 2) are closer than 1, and hit 1 has the smallest radius.
    assert graph.edge_index.tolist() == [[1, 1], [0, 2]]
    assert graph.num_capped_hits == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_radius_graph_radius_is_exclusive(backend):
    graph = build_radius_graph(_line(0.0, 0.5), 0.5, 8, backend=backend)
    assert graph.edge_index.shape == (2, 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_radius_graph_orientation_by_radius(backend):
    embedding = _line(0.0, 0.1, 0.2)
    pos = _pos_with_radius(70.0, 30.0, 50.0)
    source, target = build_radius_graph(embedding, 1.0, 8, pos, backend).edge_index
    radius = pos[:, 0]
    assert source.numel() == 3
    assert (radius[source] < radius[target]).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_radius_graph_orientation_without_pos(backend):
    edge_index = build_radius_graph(_line(0.2, 0.1, 0.0), 1.0, 8, backend=backend)[0]
    assert edge_index.tolist() == [[0, 0, 1], [1, 2, 2]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_radius_graph_duplicates_no_self_loops(backend):
    embedding = _line(1.0, 1.0, 1.0, 5.0)
    graph = build_radius_graph(embedding, 0.5, 8, backend=backend)
    assert graph.edge_index.tolist() == [[0, 0, 1], [1, 2, 2]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_radius_graph_many_duplicates_capped(backend):
    graph = build_radius_graph(_line(*([2.0] * 6)), 0.5, 2, backend=backend)
    source, target = graph.edge_index
    degree = torch.bincount(torch.cat([source, target]), minlength=6)
    assert graph.num_capped_hits == 6
    assert not (source == target).any()
    assert (degree >= 2).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_radius_graph_cap_keeps_nearest(backend):
    # Two tight pairs 0.9 apart: with one neighbour each, the pairs stay apart.
    embedding = _line(0.0, 0.1, 1.0, 1.1)
    capped = build_radius_graph(embedding, 1.5, 1, backend=backend)
    assert capped.edge_index.tolist() == [[0, 2], [1, 3]]
    assert capped.num_capped_hits == 4

    uncapped = build_radius_graph(embedding, 1.5, 3, backend=backend)
    assert uncapped.edge_index.size(1) == 6
    assert uncapped.num_capped_hits == 0


def test_radius_graph_exact_fill_not_capped():
    # Each end hit has exactly one neighbour, the middle one has two.
    graph = build_radius_graph(_line(0.0, 1.0, 2.0), 1.5, 1)
    assert graph.num_capped_hits == 1


def test_radius_graph_backends_agree():
    generator = torch.Generator().manual_seed(0)
    embedding = torch.randn(300, 8, generator=generator)
    pos = torch.randn(300, 3, generator=generator) * 50.0
    kdtree = build_radius_graph(embedding, 2.5, 6, pos, backend="kdtree")
    brute_force = build_radius_graph(embedding, 2.5, 6, pos, backend="brute_force")
    assert kdtree.num_capped_hits > 0
    assert torch.equal(kdtree.edge_index, brute_force.edge_index)
    assert kdtree.num_capped_hits == brute_force.num_capped_hits


def test_radius_graph_fewer_than_two_hits():
    assert build_radius_graph(torch.zeros(1, 4), 1.0).edge_index.shape == (2, 0)
    assert build_radius_graph(torch.zeros(0, 4), 1.0).edge_index.shape == (2, 0)


def test_radius_graph_invalid_arguments():
    with pytest.raises(ValueError, match="positive radius 'r', got 0.0"):
        build_radius_graph(torch.zeros(3, 2), 0.0)
    with pytest.raises(ValueError, match="'max_num_neighbors' >= 1, got 0"):
        build_radius_graph(torch.zeros(3, 2), 1.0, 0)
    with pytest.raises(ValueError, match="got 'ball_tree'"):
        build_radius_graph(torch.zeros(3, 2), 1.0, backend="ball_tree")


class _FakeTorchCluster:
    """Stand-in for torch_cluster.knn: each query's k nearest points, itself included."""

    def __init__(self) -> None:
        self.calls = 0

    def knn(self, x: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
        self.calls += 1
        distance = torch.cdist(y, x)
        nearest = distance.topk(k, dim=1, largest=False).indices
        query = torch.arange(y.size(0))[:, None].expand_as(nearest)
        return torch.stack([query.reshape(-1), nearest.reshape(-1)])


def test_radius_graph_torch_cluster_matches_kdtree(monkeypatch):
    fake = _FakeTorchCluster()
    monkeypatch.setattr(graph_module, "torch_cluster", fake)
    generator = torch.Generator().manual_seed(0)
    embedding = torch.rand(200, 3, generator=generator)
    pos = torch.rand(200, 3, generator=generator) * 50.0

    reference = build_radius_graph(embedding, 0.15, 6, pos, backend="kdtree")
    graph = build_radius_graph(embedding, 0.15, 6, pos, backend="auto")
    assert fake.calls == 1
    assert torch.equal(graph.edge_index, reference.edge_index)
    assert graph.num_capped_hits == reference.num_capped_hits > 0


def test_radius_graph_torch_cluster_duplicates(monkeypatch):
    monkeypatch.setattr(graph_module, "torch_cluster", _FakeTorchCluster())
    graph = build_radius_graph(_line(1.0, 1.0, 1.0, 5.0), 0.5, 8, backend="torch_cluster")
    assert graph.edge_index.tolist() == [[0, 0, 1], [1, 2, 2]]


def test_radius_graph_torch_cluster_missing(monkeypatch):
    monkeypatch.setattr(graph_module, "torch_cluster", None)
    with pytest.raises(ImportError, match="pip install torch-cluster"):
        build_radius_graph(_line(0.0, 1.0), 0.5, backend="torch_cluster")
