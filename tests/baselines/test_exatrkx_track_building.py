import pytest
import torch

from baselines.exatrkx import connected_components, walkthrough


def test_connected_components_chain():
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 3]])
    labels = connected_components(4, edge_index, torch.tensor([0.9, 0.8, 0.7]))
    assert labels.tolist() == [0, 0, 0, 0]
    assert labels.dtype == torch.long


def test_connected_components_chain_broken_below_cut():
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 3]])
    labels = connected_components(4, edge_index, torch.tensor([0.9, 0.2, 0.7]))
    assert labels.tolist() == [0, 0, 1, 1]


def test_connected_components_fork():
    # Hit 1 branches into hits 2 and 3, and the edge to hit 4 is below the cut.
    edge_index = torch.tensor([[0, 1, 1, 3], [1, 2, 3, 4]])
    scores = torch.tensor([0.9, 0.9, 0.6, 0.4])
    labels = connected_components(5, edge_index, scores, cut=0.5)
    assert labels.tolist() == [0, 0, 0, 0, 1]


def test_connected_components_isolated_hit():
    edge_index = torch.tensor([[0, 3], [1, 4]])
    labels = connected_components(5, edge_index, torch.tensor([0.9, 0.9]))
    assert labels.tolist() == [0, 0, 1, 2, 2]


def test_connected_components_all_below_cut():
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 0]])
    labels = connected_components(4, edge_index, torch.tensor([0.1, 0.3, 0.5]))
    assert labels.tolist() == [0, 1, 2, 3]


def test_connected_components_score_at_cut():
    labels = connected_components(2, torch.tensor([[0], [1]]), torch.tensor([0.5]))
    assert labels.tolist() == [0, 1]


def test_connected_components_labels_follow_first_hit():
    edge_index = torch.tensor([[3, 1], [0, 4]])
    labels = connected_components(5, edge_index, torch.tensor([1.0, 1.0]))
    assert labels.tolist() == [0, 1, 2, 0, 1]


def test_connected_components_zero_hits():
    labels = connected_components(
        0, torch.empty(2, 0, dtype=torch.long), torch.empty(0)
    )
    assert labels.shape == (0,)
    assert labels.dtype == torch.long


def test_connected_components_no_edges():
    labels = connected_components(3, torch.empty(2, 0, dtype=torch.long), torch.empty(0))
    assert labels.tolist() == [0, 1, 2]


def test_connected_components_invalid_input():
    edge_index = torch.tensor([[0], [1]])
    with pytest.raises(ValueError, match="'scores' of shape \\[1\\], got \\[2\\]"):
        connected_components(2, edge_index, torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="entries in \\[0, 0\\]"):
        connected_components(1, edge_index, torch.tensor([0.9]))


def _edges(*pairs: tuple[int, int]) -> torch.Tensor:
    return torch.tensor(pairs, dtype=torch.long).T


def test_walkthrough_clean_chain_and_isolated_hit():
    edge_index = _edges((0, 1), (1, 2), (2, 3))
    labels = walkthrough(5, edge_index, torch.full((3,), 0.9), cut=0.5)
    assert labels.tolist() == [0, 0, 0, 0, 1]


def test_walkthrough_fork_follows_best_edge():
    # At hit 1 the walk follows the better edge to 2; the edge to 3 scores
    # below add_cut, so 3 and 5 become a track of their own.
    edge_index = _edges((0, 1), (1, 2), (1, 3), (2, 4), (3, 5))
    scores = torch.tensor([0.9, 0.95, 0.6, 0.9, 0.9])
    labels = walkthrough(6, edge_index, scores, cut=0.5, add_cut=0.9)
    assert labels.tolist() == [0, 0, 0, 1, 0, 1]
    assert connected_components(6, edge_index, scores, 0.5).tolist() == [0] * 6


def test_walkthrough_second_branch_longer_path():
    # The edge 1 -> 3 passes add_cut, so its longer branch 0, 1, 3, 5, 6 wins
    # over 0, 1, 2, 4, and 2, 4 form the second track.
    edge_index = _edges((0, 1), (1, 2), (1, 3), (2, 4), (3, 5), (5, 6))
    scores = torch.tensor([0.9, 0.97, 0.95, 0.9, 0.9, 0.9])
    labels = walkthrough(7, edge_index, scores, cut=0.5, add_cut=0.9)
    assert labels.tolist() == [0, 0, 1, 0, 1, 0, 0]


def test_walkthrough_merge_from_two_starts():
    # Hits 0 and 1 both lead into 2; the innermost start by order key wins.
    edge_index = _edges((0, 2), (1, 2), (2, 3))
    scores = torch.tensor([0.8, 0.9, 0.9])
    order = torch.tensor([2.0, 1.0, 3.0, 4.0])
    labels = walkthrough(4, edge_index, scores, cut=0.5, order=order)
    assert labels.tolist() == [0, 1, 1, 1]


def test_walkthrough_all_scores_below_cut():
    edge_index = _edges((0, 1), (1, 2), (0, 2))
    labels = walkthrough(3, edge_index, torch.tensor([0.1, 0.2, 0.3]), cut=0.5)
    assert labels.tolist() == [0, 1, 2]


def test_walkthrough_order_orients_edges():
    # The same fork as above, given with reversed edges and radii as keys.
    edge_index = _edges((1, 0), (2, 1), (3, 1), (4, 2), (5, 3))
    scores = torch.tensor([0.9, 0.95, 0.6, 0.9, 0.9])
    order = torch.arange(6, dtype=torch.float)
    labels = walkthrough(6, edge_index, scores, cut=0.5, order=order)
    assert labels.tolist() == [0, 0, 0, 1, 0, 1]


def test_walkthrough_no_hits_and_no_edges():
    empty = torch.empty(2, 0, dtype=torch.long)
    assert walkthrough(0, empty, torch.empty(0)).shape == (0,)
    assert walkthrough(3, empty, torch.empty(0)).tolist() == [0, 1, 2]


def test_walkthrough_labels_every_hit_once():
    generator = torch.Generator().manual_seed(0)
    source = torch.randint(0, 30, (80,), generator=generator)
    target = torch.randint(0, 30, (80,), generator=generator)
    keep = source != target
    edge_index = torch.stack([source[keep], target[keep]])
    scores = torch.rand(edge_index.size(1), generator=generator)
    labels = walkthrough(30, edge_index, scores, 0.3, 0.6, order=torch.arange(30.0))
    assert labels.shape == (30,)
    assert (labels >= 0).all()
    assert labels.unique().tolist() == list(range(int(labels.max()) + 1))


def test_walkthrough_invalid_inputs():
    # A cycle with a branch at hit 2; without branching it would be one track.
    cycle = _edges((0, 1), (1, 2), (2, 0), (2, 3))
    scores = torch.full((4,), 0.9)
    with pytest.raises(ValueError, match="has a cycle; pass 'order'"):
        walkthrough(4, cycle, scores)
    assert walkthrough(4, cycle, scores, order=torch.arange(4.0)).shape == (4,)
    with pytest.raises(ValueError, match="'add_cut' >= 'cut'"):
        walkthrough(4, cycle, scores, cut=0.5, add_cut=0.4)
    with pytest.raises(ValueError, match="Expected 'order' of shape \\[4\\]"):
        walkthrough(4, cycle, scores, order=torch.zeros(2))
