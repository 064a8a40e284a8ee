import logging

import numpy as np
import pytest
import torch

from fm4npp_geo.metrics import edge_efficiency_purity, true_edges


def test_edge_efficiency_purity_by_hand():
    edge_y = np.array([1, 1, 0, 1, 0], dtype=bool)
    kept = np.array([1, 0, 0, 1, 1], dtype=bool)
    assert edge_efficiency_purity(edge_y, kept, num_true_edges=4) == (0.5, pytest.approx(2 / 3))
    assert edge_efficiency_purity(edge_y, kept) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    # Without a classifier every candidate edge is kept: the graph's own scores.
    assert edge_efficiency_purity(edge_y, num_true_edges=6) == (0.5, 0.6)


def test_true_edges_exclude_noise():
    particle = torch.tensor([1, 1, 0, 0, 2])
    edge_index = torch.tensor([[0, 2, 0, 4], [1, 3, 4, 4]])
    assert true_edges(edge_index, particle).tolist() == [True, False, False, True]


def test_edge_inputs_checked(caplog):
    with pytest.raises(ValueError, match="smaller than the 2 true candidate edges"):
        edge_efficiency_purity(np.array([1, 1]), num_true_edges=1)
    with pytest.raises(ValueError, match=r"shape \[2, E\]"):
        true_edges(np.zeros((3, 2), dtype=np.int64), np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="outside 0..2"):
        true_edges(np.array([[0], [3]]), np.zeros(3, dtype=np.int64))
    with caplog.at_level(logging.WARNING):
        assert edge_efficiency_purity(np.zeros(2, bool), np.zeros(2, bool)) == (0.0, 0.0)
    assert "no true edges" in caplog.text
