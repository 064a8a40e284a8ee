import pytest
import torch

from baselines.exatrkx import edge_truth, truth_edges


def _event() -> tuple[torch.Tensor, torch.Tensor]:
    # Particle 7 at r = 40, 30, 50; particle 3 at r = 35, 45; two noise hits;
    # particle 5 with a single hit.
    pos = torch.tensor(
        [
            [40.0, 0.0, 0.0],
            [30.0, 0.0, 1.0],
            [50.0, 0.0, 2.0],
            [0.0, 35.0, 0.0],
            [0.0, 45.0, 0.0],
            [0.0, 32.0, 0.0],
            [0.0, 38.0, 0.0],
            [60.0, 0.0, 1.0],
        ]
    )
    particle_id = torch.tensor([7, 7, 7, 3, 3, 0, 0, 5])
    return particle_id, pos


def test_truth_edges_hand_built_event():
    particle_id, pos = _event()
    edge_index = truth_edges(particle_id, pos)
    assert edge_index.tolist() == [[3, 1, 0], [4, 0, 2]]
    assert edge_index.dtype == torch.long


def test_truth_edges_never_contain_noise():
    particle_id, pos = _event()
    edge_index = truth_edges(particle_id, pos)
    assert not (particle_id[edge_index] == 0).any()


def test_truth_edges_point_outwards():
    particle_id, pos = _event()
    source, target = truth_edges(particle_id, pos)
    radius = pos[:, :2].norm(dim=1)
    assert (radius[source] <= radius[target]).all()


def test_truth_edges_equal_radius_order():
    pos = torch.tensor([[0.0, 40.0, 5.0], [40.0, 0.0, 0.0], [30.0, 0.0, 0.0]])
    particle_id = torch.tensor([2, 2, 2])
    assert truth_edges(particle_id, pos).tolist() == [[2, 0], [0, 1]]


def test_truth_edges_empty_event():
    edge_index = truth_edges(torch.empty(0, dtype=torch.long), torch.empty(0, 3))
    assert edge_index.shape == (2, 0)


def test_truth_edges_invalid_pos():
    with pytest.raises(ValueError, match="Expected 'pos' of shape \\[2, 3\\]"):
        truth_edges(torch.tensor([1, 1]), torch.zeros(2, 2))


def test_edge_truth_same_particle():
    particle_id, _ = _event()
    edge_index = torch.tensor([[0, 0, 5, 3, 7], [2, 3, 6, 4, 0]])
    # Hits 0 and 2 share particle 7; noise hits 5 and 6 never make a true edge.
    assert edge_truth(edge_index, particle_id).tolist() == [
        True,
        False,
        False,
        True,
        False,
    ]


def test_edge_truth_consecutive_only():
    particle_id, pos = _event()
    edge_index = torch.tensor([[0, 2, 1, 4], [2, 1, 0, 3]])
    labels = edge_truth(edge_index, particle_id, truth_edges(particle_id, pos))
    # (1, 2) skips hit 0; (0, 1) and (4, 3) are truth edges in reverse.
    assert labels.tolist() == [True, False, True, True]


def test_edge_truth_index_out_of_range():
    with pytest.raises(ValueError, match="entries in \\[0, 1\\], got values"):
        edge_truth(torch.tensor([[0], [2]]), torch.tensor([1, 1]))
