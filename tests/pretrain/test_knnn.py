import pytest
import torch
from torch_geometric.data import Data

from fm4npp_geo.pretrain import KNNNTargets, knnn_targets


def brute_force(coords: torch.Tensor, k: int, strict_radius: bool):
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


@pytest.mark.parametrize("strict_radius", [False, True])
@pytest.mark.parametrize("num_hits,k", [(0, 3), (1, 3), (2, 3), (4, 6), (60, 5), (200, 30)])
def test_matches_brute_force(num_hits, k, strict_radius):
    generator = torch.Generator().manual_seed(num_hits + k)
    coords = torch.rand(num_hits, 3, generator=generator, dtype=torch.float64)
    targets, mask = knnn_targets(coords, k, strict_radius)
    expected_targets, expected_mask = brute_force(coords, k, strict_radius)
    assert torch.equal(mask, expected_mask)
    assert torch.equal(targets, expected_targets)


def test_ties_on_grid():
    # Integer grid: many equal distances. Ties go to the smaller index.
    grid = torch.stack(torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij"), -1)
    coords = torch.cat([grid.reshape(-1, 2), torch.zeros(16, 1)], dim=1).double()
    targets, mask = knnn_targets(coords, 3)
    expected_targets, expected_mask = brute_force(coords, 3, False)
    assert torch.equal(mask, expected_mask)
    assert torch.equal(targets, expected_targets)


def test_last_hits_have_masked_targets():
    coords = torch.tensor([[0.0, 0, 0], [1.0, 0, 1], [2.0, 0, 2]])
    targets, mask = knnn_targets(coords, 2)
    assert mask.tolist() == [[True, True], [True, False], [False, False]]
    assert targets[0].tolist() == [[1.0, 0, 1], [2.0, 0, 2]]
    assert targets[1, 1].tolist() == [0.0, 0.0, 0.0]


def test_transform_writes_hit_order():
    x = torch.tensor([[0.0, 0, 0, 3], [0.0, 0, 0, 1], [0.0, 0, 0, 2]])
    data = KNNNTargets(k=1)(Data(x=x, order=torch.tensor([1, 2, 0])))
    # Serialized sequence is hits 1, 2, 0: hit 1 -> hit 2, hit 2 -> hit 0, hit 0 -> none.
    assert data.knnn_target[1, 0, 2].item() == 2.0
    assert data.knnn_target[2, 0, 2].item() == 3.0
    assert data.knnn_mask[:, 0].tolist() == [False, True, True]


def test_invalid_k_rejected():
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        knnn_targets(torch.zeros(3, 3), 0)
    with pytest.raises(ValueError, match="apply HitFeatures and HierarchicalRasterScan"):
        KNNNTargets(k=2)(Data(x=torch.zeros(2, 4)))
