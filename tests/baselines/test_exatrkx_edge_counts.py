import pytest
import torch

from baselines.exatrkx import count_edges


def test_count_edges_efficiency_and_purity():
    particle_id = torch.tensor([1, 1, 1, 2, 2, 0])
    true_edge_index = torch.tensor([[0, 1, 3], [1, 2, 4]])
    # Found: (1, 0) reversed, (0, 2) is same-particle but not a truth edge,
    # (2, 3) and (4, 5) join different particles or noise.
    edge_index = torch.tensor([[1, 0, 2, 4], [0, 2, 3, 5]])
    counts = count_edges(edge_index, particle_id, true_edge_index)
    assert counts.num_true == 3
    assert counts.num_true_selected == 1
    assert counts.num_selected == 4
    assert counts.num_selected_same_particle == 2
    assert counts.efficiency == pytest.approx(1 / 3)
    assert counts.purity == pytest.approx(0.5)

    mask = torch.tensor([True, True, False, False])
    selected = count_edges(edge_index, particle_id, true_edge_index, mask)
    assert selected.purity == 1.0
    assert (counts + selected).num_selected == 6
