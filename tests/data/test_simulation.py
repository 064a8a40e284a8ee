import dataclasses

import numpy as np
import pytest
import torch

from fm4npp_geo.data import (
    ParticleTable,
    SimulationConfig,
    TPCGeometry,
    simulate_event,
    simulate_events,
)

GEOMETRY = TPCGeometry()
NO_NOISE = SimulationConfig(noise_rate=0.0)


def make_particles(rows):
    # rows: (pdg, charge, mass, px, py, pz, vx, vy, vz)
    columns = np.asarray(rows, dtype=float).T
    names = ('pdg', 'charge', 'mass', 'px', 'py', 'pz', 'vx', 'vy', 'vz')
    return ParticleTable(**dict(zip(names, columns)))


def check_schema(data):
    num_hits = data.num_nodes
    assert data.pos.shape == (num_hits, 3)
    assert data.pos.dtype == torch.float32
    for name in ('energy', 'particle_pt', 'particle_eta'):
        assert getattr(data, name).shape == (num_hits, )
        assert getattr(data, name).dtype == torch.float32
    for name in ('layer', 'particle_id', 'pid_label'):
        assert getattr(data, name).shape == (num_hits, )
        assert getattr(data, name).dtype == torch.long
    assert data.noise_label.dtype == torch.bool
    assert data.particles.dtype == torch.float64
    assert data.particles.shape[1] == 9


def test_central_pion_crosses_every_row():
    # A 1 GeV pi+ at eta = 0 from the origin.
    particles = make_particles([(211, 1, 0.13957, 1.0, 0, 0, 0, 0, 0)])
    data = simulate_event(particles, GEOMETRY, NO_NOISE,
                          np.random.default_rng(0))

    check_schema(data)
    assert data.num_nodes == 48
    assert data.layer.tolist() == list(range(48))
    assert data.particle_id.tolist() == [1] * 48
    assert data.pid_label.tolist() == [1] * 48
    assert not data.noise_label.any()
    assert torch.allclose(data.particle_pt, torch.ones(48))
    assert torch.all(data.energy > 0)
    radius = data.pos[:, :2].norm(dim=1)
    expected = torch.tensor(GEOMETRY.layer_radii, dtype=torch.float32)
    assert torch.allclose(radius, expected)
    assert data.pos[:, 2].abs().max() < 0.5
    assert data.particles[0, 0].item() == 211


def test_slow_proton_deposits_more_than_pion():
    particles = make_particles([
        (2212, 1, 0.93827, 0.5, 0, 0, 0, 0, 0),
        (-211, -1, 0.13957, 0, 0.5, 0, 0, 0, 0),
    ])
    config = dataclasses.replace(NO_NOISE, dedx_relative_width=0.0)
    data = simulate_event(particles, GEOMETRY, config,
                          np.random.default_rng(0))

    proton = data.energy[data.particle_id == 1]
    pion = data.energy[data.particle_id == 2]
    assert data.pid_label[data.particle_id == 1].unique().tolist() == [3]
    assert data.pid_label[data.particle_id == 2].unique().tolist() == [1]
    assert proton.mean() > 2.5 * pion.mean()


def test_noise_hits_are_labelled():
    config = SimulationConfig(noise_rate=40.0)
    data = simulate_event(ParticleTable.empty(), GEOMETRY, config,
                          np.random.default_rng(3))

    check_schema(data)
    assert data.num_nodes > 10
    assert torch.all(data.particle_id == 0)
    assert torch.all(data.noise_label)
    assert torch.all(data.pid_label == 0)
    assert torch.all(data.particle_pt == 0)
    assert torch.all(data.pos[:, 2].abs() <= GEOMETRY.z_max)
    assert data.particles.shape == (0, 9)


def test_low_pt_particle_hits_are_noise():
    # A pi- with pT = 0.05 GeV (R = 11.9 cm) from a vertex at r = 25 cm
    # pointing outwards reaches the inner rows.
    particles = make_particles([(-211, -1, 0.13957, 0.05, 0, 0, 25, 0, 0)])
    data = simulate_event(particles, GEOMETRY, NO_NOISE,
                          np.random.default_rng(0))

    assert data.num_nodes > 0
    assert torch.all(data.particle_id == 1)
    assert torch.all(data.noise_label)


def test_preselection_drops_forward_and_neutral():
    particles = make_particles([
        (211, 1, 0.13957, 1.0, 0, 100.0, 0, 0, 0),  # eta = 5.3
        (22, 0, 0.0, 1.0, 0, 0, 0, 0, 0),  # photon
        (321, 1, 0.49368, 0, 1.0, 0, 0, 0, 0),
    ])
    data = simulate_event(particles, GEOMETRY, NO_NOISE,
                          np.random.default_rng(0))

    assert data.particles.shape == (1, 9)
    assert data.particles[0, 0].item() == 321
    assert data.pid_label.unique().tolist() == [2]


def test_hits_are_ordered_by_layer_then_phi():
    particles = make_particles([
        (211, 1, 0.13957, 1.0, 0.2, 0, 0, 0, 0),
        (211, 1, 0.13957, -1.0, 0.3, 0.2, 0, 0, 0),
        (211, -1, 0.13957, 0.1, -1.0, -0.3, 0, 0, 0),
    ])
    data = simulate_event(particles, GEOMETRY, SimulationConfig(),
                          np.random.default_rng(5))

    phi = torch.atan2(data.pos[:, 1], data.pos[:, 0])
    key = data.layer.double() * 10 + (phi.double() + torch.pi)
    assert torch.all(key[1:] >= key[:-1])


def test_simulation_config_validation():
    with pytest.raises(ValueError, match="non-negative 'noise_rate'"):
        SimulationConfig(noise_rate=-1.0)
    with pytest.raises(ValueError, match="positive 'energy_scale'"):
        SimulationConfig(energy_scale=0.0)


def test_simulate_events_schema_and_seeds():
    pytest.importorskip('pythia8mc')
    events = simulate_events(4, seed=11)
    again = simulate_events(4, seed=11)
    other = simulate_events(4, seed=12)

    assert len(events) == 4
    for data in events:
        check_schema(data)
        noise = data.particle_id == 0
        assert torch.all(data.noise_label[noise])
        assert torch.all(data.pid_label[noise] == 0)
        assert torch.all(data.particle_pt[noise] == 0)
        assert data.particle_id.max() <= data.particles.shape[0]
        assert data.layer.min() >= 0
        assert data.layer.max() < 48
    for a, b in zip(events, again):
        assert torch.equal(a.pos, b.pos)
        assert torch.equal(a.energy, b.energy)
        assert torch.equal(a.particle_id, b.particle_id)
    assert any(a.num_nodes != b.num_nodes or not torch.equal(a.pos, b.pos)
               for a, b in zip(events, other))


def test_simulate_events_chunk_matches_full_run():
    pytest.importorskip('pythia8mc')
    full = simulate_events(3, seed=5)
    chunk = simulate_events(1, seed=5, first_event=2)

    assert torch.equal(full[2].pos, chunk[0].pos)
    assert torch.equal(full[2].energy, chunk[0].energy)
