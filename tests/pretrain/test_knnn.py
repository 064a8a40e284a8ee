import pytest
import torch
from torch_geometric.data import Batch, Data

from fm4npp_geo.nn import FM4NPPBackbone
from fm4npp_geo.pretrain import KNextNearestNeighbors, KNNNTargets, knnn_targets, neighbors


def brute_force(coords: torch.Tensor, k: int, strict_radius: bool):
    """Python loops over all pairs: the definition, ties by smaller index."""
    num_hits = coords.size(0)
    targets = torch.zeros(num_hits, k, coords.size(1), dtype=coords.dtype)
    mask = torch.zeros(num_hits, k, dtype=torch.bool)
    for i in range(num_hits):
        if strict_radius:
            candidates = [j for j in range(num_hits) if coords[j, -1] > coords[i, -1]]
        else:
            candidates = list(range(i + 1, num_hits))
        candidates.sort(key=lambda j: (torch.dist(coords[i], coords[j]).item(), j))
        for slot, j in enumerate(candidates[:k]):
            targets[i, slot] = coords[j]
            mask[i, slot] = True
    return targets, mask


def dense_reference(coords: torch.Tensor, k: int, strict_radius: bool):
    """All pairwise distances at once, then a stable sort per row: ties by smaller index."""
    num_hits = coords.size(0)
    distance = torch.zeros(num_hits, num_hits, dtype=coords.dtype)
    for axis in range(coords.size(1)):
        distance += (coords[:, None, axis] - coords[None, :, axis]) ** 2
    index = torch.arange(num_hits)
    if strict_radius:
        valid = coords[None, :, -1] > coords[:, None, -1]
    else:
        valid = index[None, :] > index[:, None]
    distance = distance.masked_fill(~valid, float("inf"))
    neighbor = torch.sort(distance, dim=1, stable=True).indices[:, :k]
    mask = torch.gather(valid, 1, neighbor)
    targets = torch.where(mask[..., None], coords[neighbor], torch.zeros(()))
    return targets, mask


def assert_matches(coords, k, strict_radius, reference=brute_force):
    targets, mask = knnn_targets(coords, k, strict_radius)
    expected_targets, expected_mask = reference(coords, k, strict_radius)
    assert torch.equal(mask, expected_mask)
    assert torch.equal(targets, expected_targets)


@pytest.mark.parametrize("strict_radius", [False, True])
@pytest.mark.parametrize("num_hits,k", [(0, 3), (1, 3), (2, 3), (3, 3), (4, 6), (60, 5), (200, 30)])
def test_matches_brute_force(num_hits, k, strict_radius):
    generator = torch.Generator().manual_seed(num_hits + k)
    coords = torch.rand(num_hits, 3, generator=generator, dtype=torch.float64)
    assert_matches(coords, k, strict_radius)


@pytest.mark.parametrize("strict_radius", [False, True])
def test_large_event_matches_dense(strict_radius):
    # 3,000 hits are enough for the block search of hits whose first KD-tree
    # query falls short: the last hits in order, and with strict_radius the
    # outermost ones.
    generator = torch.Generator().manual_seed(7)
    coords = torch.rand(3000, 3, generator=generator, dtype=torch.float64)
    assert_matches(coords, 30, strict_radius, dense_reference)


def test_serialized_order_far_from_spatial():
    # Hits ordered by descending x: for most hits the later ones are on one
    # side only, so the first query rarely contains k later hits.
    generator = torch.Generator().manual_seed(8)
    coords = torch.rand(1500, 3, generator=generator, dtype=torch.float64)
    coords = coords[coords[:, 0].argsort(descending=True)]
    assert_matches(coords, 10, False, dense_reference)


@pytest.mark.parametrize("strict_radius", [False, True])
def test_ties_on_grid(strict_radius):
    # Integer grid: many equal distances and radii. Ties go to the smaller index.
    axis = torch.arange(6.0)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3).double()
    shuffled = grid[torch.randperm(grid.size(0), generator=torch.Generator().manual_seed(0))]
    assert_matches(shuffled, 30, strict_radius, dense_reference)
    assert_matches(shuffled[:40], 5, strict_radius)


@pytest.mark.parametrize("strict_radius", [False, True])
def test_block_search_alone_matches_dense(monkeypatch, strict_radius):
    # Skip the first KD-tree query, so every hit goes through the block search.
    monkeypatch.setattr(neighbors._SuffixSearch, "first_pass", lambda self, tree, rows, needed, workers: rows)
    generator = torch.Generator().manual_seed(9)
    coords = torch.rand(700, 3, generator=generator, dtype=torch.float64)
    assert_matches(coords, 12, strict_radius, dense_reference)
    axis = torch.arange(5.0)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3).double()
    assert_matches(grid, 20, strict_radius, dense_reference)


def test_duplicate_points():
    coords = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [0.0, 0, 0], [0.0, 0, 0], [1.0, 0, 0]]).double()
    assert_matches(coords, 2, False)


def test_last_hits_have_masked_targets():
    coords = torch.tensor([[0.0, 0, 0], [1.0, 0, 1], [2.0, 0, 2]])
    targets, mask = knnn_targets(coords, 2)
    assert mask.tolist() == [[True, True], [True, False], [False, False]]
    assert targets[0].tolist() == [[1.0, 0, 1], [2.0, 0, 2]]
    assert targets[1, 1].tolist() == [0.0, 0.0, 0.0]
    assert targets.dtype == torch.float32


def test_single_hit_and_empty():
    targets, mask = knnn_targets(torch.ones(1, 3), 4)
    assert targets.shape == (1, 4, 3)
    assert mask.tolist() == [[False] * 4]
    targets, mask = knnn_targets(torch.zeros(0, 3), 4)
    assert targets.shape == (0, 4, 3)
    assert mask.shape == (0, 4)


def test_transform_writes_hit_order():
    x = torch.tensor([[0.0, 0, 0, 3], [0.0, 0, 0, 1], [0.0, 0, 0, 2]])
    data = KNNNTargets(k=1)(Data(x=x, order=torch.tensor([1, 2, 0])))
    # Serialized sequence is hits 1, 2, 0: hit 1 -> hit 2, hit 2 -> hit 0, hit 0 -> none.
    assert data.knnn_target[1, 0, 2].item() == 2.0
    assert data.knnn_target[2, 0, 2].item() == 3.0
    assert data.knnn_mask[:, 0].tolist() == [False, True, True]


def test_transform_on_batch_equals_per_event():
    generator = torch.Generator().manual_seed(1)
    events = []
    for n in (6, 1, 9):
        events.append(Data(x=torch.rand(n, 4, generator=generator), order=torch.randperm(n, generator=generator)))
    transform = KNNNTargets(k=3)
    batch = transform(Batch.from_data_list([e.clone() for e in events]))
    singles = [transform(e.clone()) for e in events]
    assert torch.equal(batch.knnn_target, torch.cat([e.knnn_target for e in singles]))
    assert torch.equal(batch.knnn_mask, torch.cat([e.knnn_mask for e in singles]))


def test_invalid_inputs_rejected():
    with pytest.raises(ValueError, match="k must be a whole number >= 1, got 0"):
        knnn_targets(torch.zeros(3, 3), 0)
    with pytest.raises(ValueError, match="coords must be finite"):
        knnn_targets(torch.tensor([[0.0, 0.0, float("inf")], [0.0, 0.0, 1.0]]), 1)
    with pytest.raises(ValueError, match=r"shape \[num_hits, dims\]"):
        knnn_targets(torch.zeros(3), 1)
    with pytest.raises(ValueError, match="apply HitFeatures and HierarchicalRasterScan"):
        KNNNTargets(k=2)(Data(x=torch.zeros(2, 4)))


TINY_BACKBONE = dict(d_model=16, n_layer=1, d_state=8, headdim=8, chunk_size=16)


def prepared_batch(sizes=(5, 12), k=3):
    generator = torch.Generator().manual_seed(2)
    events = []
    for n in sizes:
        data = Data(x=torch.rand(n, 4, generator=generator), order=torch.randperm(n, generator=generator))
        events.append(KNNNTargets(k=k)(data))
    return Batch.from_data_list(events)


def test_objective_is_masked_mse():
    torch.manual_seed(0)
    objective = KNextNearestNeighbors(FM4NPPBackbone(**TINY_BACKBONE), k=3)
    batch = prepared_batch()
    loss = objective(batch)
    with torch.no_grad():
        hidden = objective.backbone.forward_batch(batch)
        prediction = batch.x[:, 1:4].unsqueeze(1) + objective.head(hidden).view(-1, 3, 3)
        error = ((prediction - batch.knnn_target) ** 2).sum(-1)[batch.knnn_mask]
    expected = error.sum() / (3 * batch.knnn_mask.sum())
    assert torch.allclose(loss, expected)
    total, count = objective(batch, reduce=False)
    assert count.item() == 3 * batch.knnn_mask.sum().item()
    assert torch.allclose(total / count, loss)


def test_objective_event_weights():
    torch.manual_seed(0)
    backbone = FM4NPPBackbone(**TINY_BACKBONE)
    batch = prepared_batch(sizes=(5, 12))
    plain = KNextNearestNeighbors(backbone, k=3)
    # Events below 10 hits get weight 0, so only the 12-hit event counts.
    weighted = KNextNearestNeighbors(backbone, k=3, hit_count_bins=[10], bin_weights=[0.0, 2.0])
    weighted.head.load_state_dict(plain.head.state_dict())
    second = Batch.from_data_list([batch.get_example(1)])
    assert torch.allclose(weighted(batch), plain(second), atol=1e-6)
    total, count = weighted(batch, reduce=False)
    assert count.item() == 2 * 3 * second.knnn_mask.sum().item()


def test_objective_checks():
    backbone = FM4NPPBackbone(**TINY_BACKBONE)
    with pytest.raises(ValueError, match="must be given together"):
        KNextNearestNeighbors(backbone, k=3, hit_count_bins=[10])
    with pytest.raises(ValueError, match=r"bin_weights needs len\(hit_count_bins\) \+ 1 = 2 values, got 1"):
        KNextNearestNeighbors(backbone, k=3, hit_count_bins=[10], bin_weights=[1.0])
    with pytest.raises(ValueError, match="targets were computed for k=3 but the objective uses k=4"):
        KNextNearestNeighbors(backbone, k=4)(prepared_batch(k=3))
    with pytest.raises(ValueError, match="apply KNNNTargets"):
        KNextNearestNeighbors(backbone, k=3)(Data(x=torch.zeros(2, 4), order=torch.arange(2)))
