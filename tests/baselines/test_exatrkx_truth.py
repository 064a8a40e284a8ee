import pytest
import torch
from torch_geometric.data import Data

from baselines.exatrkx import edge_truth, track_order, truth_edges


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


def _looper() -> Data:
    # A positive particle from the origin with momentum along +x turns
    # clockwise on a circle of radius 40 cm around (0, -40). Hits at turning
    # angles 60, 100 and 140 degrees lie on the outgoing leg, and 220, 260 and
    # 300 degrees on the returning leg, at the same distances from the origin.
    angles = torch.tensor([220.0, 60.0, 300.0, 100.0, 140.0, 260.0]).deg2rad()
    x = 40.0 * torch.sin(angles)
    y = -40.0 + 40.0 * torch.cos(angles)
    particles = torch.tensor(
        [[1, 211, 1, 0.1396, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 1, 0, 6]],
        dtype=torch.float64,
    )
    return Data(
        pos=torch.stack([x, y, torch.zeros(6)], dim=1),
        particle_id=torch.ones(6, dtype=torch.long),
        particles=particles,
    )


def test_track_order_helix_follows_looper():
    event = _looper()
    order = track_order(event, "helix")
    edge_index = truth_edges(event.particle_id, event.pos, order)
    assert edge_index.tolist() == [[1, 3, 4, 0, 5], [3, 4, 0, 5, 2]]


def test_track_order_helix_negative_charge():
    # The mirror image in y of a positive looper is a negative one.
    event = _looper()
    event.pos[:, 1] = -event.pos[:, 1]
    event.particles[0, 2] = -1
    edge_index = truth_edges(event.particle_id, event.pos, track_order(event))
    assert edge_index.tolist() == [[1, 3, 4, 0, 5], [3, 4, 0, 5, 2]]


def test_track_order_helix_smeared_straight_track():
    # A stiff track along +x whose hits scatter to either side of the x axis:
    # a hit slightly behind the initial direction stays on the outgoing leg.
    pos = torch.tensor([[45.0, 0.1, 0.0], [35.0, 0.3, 0.0], [40.0, -0.2, 0.0]])
    particles = torch.tensor(
        [[1, 211, 1, 0.1396, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1, 0, 3]],
        dtype=torch.float64,
    )
    event = Data(pos=pos, particle_id=torch.ones(3, dtype=torch.long), particles=particles)
    edge_index = truth_edges(event.particle_id, pos, track_order(event, "helix"))
    assert edge_index.tolist() == [[1, 2], [2, 0]]


def test_track_order_rules_without_particles():
    event = Data(
        pos=torch.tensor([[3.0, 4.0, 0.0], [0.0, 1.0, 10.0]]),
        particle_id=torch.tensor([1, 1]),
    )
    assert torch.allclose(track_order(event), torch.tensor([5.0, 1.0], dtype=torch.float64))
    distance = track_order(event, "distance")
    assert torch.allclose(distance, torch.tensor([5.0, 101.0**0.5], dtype=torch.float64))
    with pytest.raises(ValueError, match="'data.particles'"):
        track_order(event, "helix")
    with pytest.raises(ValueError, match="'rule' in"):
        track_order(event, "layer")


def test_track_order_helix_noise_keeps_radius():
    event = _looper()
    event.particle_id[0] = 0
    order = track_order(event, "helix")
    assert order[0].item() == pytest.approx(event.pos[0, :2].norm().item(), rel=1e-6)


def test_truth_edges_invalid_order_shape():
    with pytest.raises(ValueError, match="Expected 'order' of shape \\[2\\]"):
        truth_edges(torch.tensor([1, 1]), torch.zeros(2, 3), torch.zeros(3))


def test_track_order_helix_separates_turns():
    # A positive particle with pT 0.1 GeV and pz 0.01 GeV in 1.4 T turns on a
    # circle of radius R = 23.83 cm and advances R * pz / pT per radian in z.
    # Its second turn repeats the first one's x and y 15 cm further in z.
    radius = 100.0 * 0.1 / (0.299792458 * 1.4)
    angles = torch.tensor([420.0, 60.0, 580.0, 140.0, 220.0, 300.0, 500.0, 660.0]).deg2rad()
    pos = torch.stack(
        [
            radius * torch.sin(angles),
            -radius + radius * torch.cos(angles),
            0.1 * radius * angles,
        ],
        dim=1,
    )
    particles = torch.tensor(
        [[1, 211, 1, 0.1396, 0.1, 0.0, 0.01, 0.0, 0.0, 0.0, 1, 0, 8]],
        dtype=torch.float64,
    )
    event = Data(pos=pos, particle_id=torch.ones(8, dtype=torch.long), particles=particles)
    edge_index = truth_edges(event.particle_id, pos, track_order(event, "helix"))
    # Hits in order of turning angle: 60, 140, 220, 300, 420, 500, 580, 660.
    assert edge_index.tolist() == [[1, 3, 4, 5, 0, 6, 2], [3, 4, 5, 0, 6, 2, 7]]
    with pytest.raises(ValueError, match="positive 'magnetic_field'"):
        track_order(event, "helix", magnetic_field=0.0)
