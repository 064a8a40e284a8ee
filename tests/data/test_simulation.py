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

from fm4npp_geo.data.particles import PARTICLE_COLUMNS

GEOMETRY = TPCGeometry()
NO_NOISE = SimulationConfig(noise_rate=0.0)
PDG = PARTICLE_COLUMNS.index('pdg')
NUM_HITS = PARTICLE_COLUMNS.index('num_hits')


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
    assert data.particles.shape[1] == len(PARTICLE_COLUMNS)
    for name in ('particle_vertex_r', 'particle_charge'):
        assert getattr(data, name).shape == (num_hits, )
    assert data.is_primary.dtype == torch.bool
    # The particle table counts each particle's hits.
    counts = torch.bincount(data.particle_id, minlength=data.particles.shape[0] + 1)
    assert torch.equal(data.particles[:, NUM_HITS].long(), counts[1:])


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
    assert data.particles[0, PDG].item() == 211
    assert torch.all(data.is_primary)
    assert torch.all(data.particle_charge == 1)


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
    assert data.particles.shape == (0, len(PARTICLE_COLUMNS))


def test_low_pt_particle_hits_are_noise():
    # A pi- with pT = 0.05 GeV (R = 11.9 cm) from a vertex at r = 25 cm
    # pointing outwards reaches the inner rows.
    particles = make_particles([(-211, -1, 0.13957, 0.05, 0, 0, 25, 0, 0)])
    data = simulate_event(particles, GEOMETRY, NO_NOISE,
                          np.random.default_rng(0))

    assert data.num_nodes > 0
    assert torch.all(data.particle_id == 1)
    assert torch.all(data.noise_label)


def test_neutral_dropped_forward_kept_without_hits():
    particles = make_particles([
        (211, 1, 0.13957, 1.0, 0, 100.0, 0, 0, 0),  # eta = 5.3
        (22, 0, 0.0, 1.0, 0, 0, 0, 0, 0),  # photon
        (321, 1, 0.49368, 0, 1.0, 0, 0, 0, 0),
    ])
    data = simulate_event(particles, GEOMETRY, NO_NOISE,
                          np.random.default_rng(0))

    check_schema(data)
    assert data.particles[:, PDG].tolist() == [211, 321]
    assert data.particles[:, NUM_HITS].tolist() == [0, 48]
    assert data.particle_id.unique().tolist() == [2]
    assert data.pid_label.unique().tolist() == [2]


def test_secondary_labels_follow_particle():
    # A pi- from a displaced vertex at r = 40 cm, flagged as a decay
    # daughter, moving outwards.
    particles = ParticleTable(
        pdg=[-211], charge=[-1.0], mass=[0.13957], px=[0.0], py=[1.0],
        pz=[0.0], vx=[0.0], vy=[40.0], vz=[0.0], is_primary=[False])
    data = simulate_event(particles, GEOMETRY, NO_NOISE,
                          np.random.default_rng(0))

    assert data.num_nodes > 0
    assert torch.all(data.pos[:, :2].norm(dim=1) > 40.0)
    assert not data.is_primary.any()
    assert torch.allclose(data.particle_vertex_r, torch.full((data.num_nodes, ), 40.0))
    assert torch.all(data.particle_charge == -1)


def test_drift_widens_z_smearing():
    # Hits near the readout (|z| close to 105 cm) are sharper than hits near
    # the central membrane, which drift 105 cm.
    config = dataclasses.replace(NO_NOISE, sigma_z=0.01, diffusion_z=0.01,
                                 multiple_scattering=False)
    count = 400
    near_membrane = make_particles([(211, 1, 0.13957, 5.0, 0, 0, 0, 0, 0.0)] * count)
    near_readout = make_particles([(211, 1, 0.13957, 5.0, 0, 0, 0, 0, 100.0)] * count)
    rng = np.random.default_rng(0)
    wide = simulate_event(near_membrane, GEOMETRY, config, rng).pos[:, 2]
    narrow = simulate_event(near_readout, GEOMETRY, config, rng).pos[:, 2]

    # sqrt(0.01^2 + 0.01^2 * 105) = 0.103 cm against sqrt(0.01^2 + 0.01^2 *
    # 5) = 0.024 cm.
    assert wide.std().item() == pytest.approx(0.103, rel=0.1)
    assert (narrow - 100.0).std().item() == pytest.approx(0.024, rel=0.1)


def test_merging_joins_overlapping_tracks():
    # Two pions 0.5 mrad apart stay within one pad (2 mm) in every row, so
    # merging leaves one hit per row, owned by the larger deposit.
    pair = make_particles([
        (211, 1, 0.13957, 5.0, 0.0, 0, 0, 0, 0),
        (211, 1, 0.13957, 5.0, 0.0025, 0, 0, 0, 0),
    ])
    config = dataclasses.replace(NO_NOISE, merge_hits=True,
                                 multiple_scattering=False)
    merged = simulate_event(pair, GEOMETRY, config, np.random.default_rng(0))
    separate = simulate_event(pair, GEOMETRY,
                              dataclasses.replace(config, merge_hits=False),
                              np.random.default_rng(0))

    assert separate.num_nodes == 96
    assert merged.num_nodes == 48
    assert merged.layer.tolist() == list(range(48))
    assert torch.allclose(merged.energy.sum(), separate.energy.sum())
    assert set(merged.particle_id.tolist()) <= {1, 2}


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
    with pytest.raises(ValueError, match="'source' to be one of"):
        SimulationConfig(source='geant4')
    with pytest.raises(ValueError, match="'collision_system' to be one of"):
        SimulationConfig(collision_system='PbPb')
    with pytest.raises(ValueError, match=r"Unknown simulation settings \['noise'\]"):
        SimulationConfig.from_dict({'noise': 3})


def test_config_accepts_mappings():
    config = SimulationConfig.from_dict({
        'source': 'gun',
        'gun': {'species': [2212], 'num_particles': 3},
        'medium': {**dataclasses.asdict(SimulationConfig().medium),
                   'radiation_length': 20.0},
    })

    assert config.gun.species == (2212, )
    assert config.medium.radiation_length == 20.0


def test_particle_gun_events():
    config = SimulationConfig(source='gun', noise_rate=0.0,
                              gun={'species': [321, -321],
                                   'num_particles': 4,
                                   'pt_range': [0.5, 0.5],
                                   'eta_range': [0.0, 0.0]})
    events = simulate_events(2, seed=3, config=config)
    again = simulate_events(1, seed=3, config=config, first_event=1)

    for data in events:
        check_schema(data)
        assert data.particles.shape[0] == 4
        assert torch.all(data.particles[:, PDG].abs() == 321)
        assert data.pid_label.unique().tolist() == [2]
        assert torch.allclose(data.particle_pt, torch.full((data.num_nodes, ), 0.5))
    assert torch.equal(events[1].pos, again[0].pos)


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

    assert full[2].num_nodes == chunk[0].num_nodes
    for key, value in full[2].items():
        if torch.is_tensor(value):
            assert torch.equal(value, chunk[0][key]), key


def test_pileup_adds_collisions():
    pytest.importorskip('pythia8mc')
    config = SimulationConfig(pileup_mean=3.0, noise_rate=0.0)
    events = simulate_events(4, seed=2, config=config)
    collision = PARTICLE_COLUMNS.index('collision')

    counts = [int(data.particles[:, collision].max()) + 1 for data in events]
    assert max(counts) > 1
    for data in events:
        check_schema(data)
        vz = PARTICLE_COLUMNS.index('vz')
        # Each collision has its own vertex z, shared by its primaries.
        primary = data.particles[:, PARTICLE_COLUMNS.index('is_primary')] == 1
        for index in data.particles[:, collision].unique():
            mine = primary & (data.particles[:, collision] == index)
            assert data.particles[mine, vz].std() < 1e-3


@pytest.mark.slow
def test_gold_gold_event_is_large():
    pytest.importorskip('pythia8mc')
    # Event 2 of seed 0 is a central collision with more than 10,000 hits;
    # Angantyr takes a few seconds to start.
    config = SimulationConfig(collision_system='AuAu', noise_rate=0.0)
    data = simulate_events(1, seed=0, config=config, first_event=2)[0]

    check_schema(data)
    assert data.num_nodes > 10_000
    assert data.particles.shape[0] > 500
