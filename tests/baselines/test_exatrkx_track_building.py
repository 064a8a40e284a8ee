import pytest
import torch

from baselines.exatrkx import connected_components


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
