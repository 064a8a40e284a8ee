import logging
import os

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

import fm4npp_geo.data.dataset as dataset_module
from fm4npp_geo.data import SimulationConfig, TPCSimDataset
from fm4npp_geo.data.simulation import simulate_events


class FakeSimulation:
    """Stands in for simulate_events: event i depends only on (seed, i), and
    every call is recorded as (first_event, num_events)."""

    def __init__(self):
        self.calls = []

    def __call__(self, num_events, seed=0, config=None, geometry=None,
                 first_event=0):
        self.calls.append((first_event, num_events))
        events = []
        for index in range(first_event, first_event + num_events):
            rng = np.random.default_rng([seed, index])
            num_hits = 3 + index % 4
            # Radii of 32 to 37 cm and |z| < 50 cm keep the hits inside the
            # TPC even after a pre_transform doubles their positions.
            radius = rng.uniform(32.0, 37.0, num_hits)
            phi = rng.uniform(-np.pi, np.pi, num_hits)
            z = rng.uniform(-50.0, 50.0, num_hits)
            pos = np.stack([radius * np.cos(phi), radius * np.sin(phi), z], 1)
            events.append(Data(
                pos=torch.from_numpy(pos).float(),
                energy=torch.from_numpy(rng.uniform(size=num_hits)).float(),
                layer=torch.zeros(num_hits, dtype=torch.long),
                particle_id=torch.arange(num_hits),
                event_index=torch.tensor([index]),
                num_nodes=num_hits,
            ))
        return events


@pytest.fixture
def fake(monkeypatch):
    simulation = FakeSimulation()
    monkeypatch.setattr(dataset_module, 'simulate_events', simulation)
    return simulation


def assert_same_events(first, second):
    assert first.keys() == second.keys()
    for key in first.keys():
        if isinstance(first[key], torch.Tensor):
            assert first[key].dtype == second[key].dtype, key
            assert torch.equal(first[key], second[key]), key
        else:
            assert first[key] == second[key], key


def test_chunk_files_and_reload(tmp_path, fake):
    first = TPCSimDataset(str(tmp_path), num_events=5, seed=2, chunk_size=2)
    folder = tmp_path / 'processed' / first.settings_hash
    names = sorted(name for name in os.listdir(folder)
                   if name.startswith('chunk'))

    assert names == ['chunk_0_1.pt', 'chunk_2_3.pt', 'chunk_4_4.pt']
    assert fake.calls == [(0, 2), (2, 2), (4, 1)]
    assert first.num_chunks == 3

    second = TPCSimDataset(str(tmp_path), num_events=5, seed=2, chunk_size=2)
    assert len(fake.calls) == 3
    assert [int(event.event_index) for event in second] == [0, 1, 2, 3, 4]
    for a, b in zip(first, second):
        assert_same_events(a, b)


def test_interrupted_run_resumes(tmp_path, fake):
    dataset = TPCSimDataset(str(tmp_path / 'run'), num_events=6,
                            chunk_size=2)
    folder = tmp_path / 'run' / 'processed' / dataset.settings_hash

    # After an interrupted run chunk_2_3 is missing, a copy truncated
    # chunk_4_5, and a killed writer left its temporary file. The temporary
    # of a running process (the parent of this one) must be kept.
    os.remove(folder / 'chunk_2_3.pt')
    data = (folder / 'chunk_4_5.pt').read_bytes()
    (folder / 'chunk_4_5.pt').write_bytes(data[:len(data) // 2])
    stray = folder / '.chunk_2_3.pt.999999999.tmp'
    stray.write_bytes(b'partial')
    running = folder / f'.chunk_2_3.pt.{os.getppid()}.tmp'
    running.write_bytes(b'partial')
    fake.calls.clear()

    resumed = TPCSimDataset(str(tmp_path / 'run'), num_events=6,
                            chunk_size=2)
    clean = TPCSimDataset(str(tmp_path / 'clean'), num_events=6,
                          chunk_size=2)

    assert fake.calls[:2] == [(2, 2), (4, 2)]
    assert not stray.exists()
    assert running.exists()
    assert [int(event.event_index) for event in resumed] == list(range(6))
    for a, b in zip(resumed, clean):
        assert_same_events(a, b)


def test_force_reload_simulates_all(tmp_path, fake):
    TPCSimDataset(str(tmp_path), num_events=3, chunk_size=2)
    fake.calls.clear()
    TPCSimDataset(str(tmp_path), num_events=3, chunk_size=2,
                  force_reload=True)

    assert fake.calls == [(0, 2), (2, 1)]


def test_truncated_chunk_read_error(tmp_path, fake):
    dataset = TPCSimDataset(str(tmp_path), num_events=3, chunk_size=2)
    path = dataset.processed_paths[1]
    with open(path, 'r+b') as file:
        file.truncate(100)

    assert dataset[0].num_nodes == 3
    with pytest.raises(RuntimeError, match='Failed to read chunk file'):
        dataset[2]


def test_cache_holds_two_chunks(tmp_path, fake):
    dataset = TPCSimDataset(str(tmp_path), num_events=7, chunk_size=2)
    for event in dataset:
        assert event.num_nodes > 0

    assert list(dataset._cache) == [2, 3]


def test_slicing_selects_events(tmp_path, fake):
    dataset = TPCSimDataset(str(tmp_path), num_events=6, chunk_size=4)
    subset = dataset[3:5]

    assert len(subset) == 2
    assert [int(event.event_index) for event in subset] == [3, 4]
    assert int(dataset[[5, 0]][0].event_index) == 5


def test_settings_select_folder(tmp_path, fake):
    base = TPCSimDataset(str(tmp_path), num_events=2, seed=1)
    noisy = TPCSimDataset(str(tmp_path), num_events=2, seed=1,
                          config=SimulationConfig(noise_rate=5.0))
    other_seed = TPCSimDataset(str(tmp_path), num_events=2, seed=4)
    from_mapping = TPCSimDataset(str(tmp_path), num_events=2, seed=1,
                                 config={'noise_rate': 5.0})
    other_chunks = TPCSimDataset(str(tmp_path), num_events=2, seed=1,
                                 chunk_size=1)

    hashes = {base.settings_hash, noisy.settings_hash,
              other_seed.settings_hash}
    assert len(hashes) == 3
    assert from_mapping.settings_hash == noisy.settings_hash
    assert other_chunks.settings_hash == base.settings_hash
    assert other_chunks.processed_file_names == ['chunk_0_0.pt',
                                                 'chunk_1_1.pt']
    assert not torch.equal(base[0].pos, other_seed[0].pos)
    assert torch.equal(base[1].pos, other_chunks[1].pos)


def test_pre_transform_applied_once(tmp_path, fake):

    def double_pos(data):
        data.pos = 2 * data.pos
        return data

    plain = TPCSimDataset(str(tmp_path), num_events=1, seed=0)
    doubled = TPCSimDataset(str(tmp_path), num_events=1, seed=0,
                            pre_transform=double_pos)

    assert doubled.settings_hash != plain.settings_hash
    assert torch.allclose(doubled[0].pos, 2 * plain[0].pos)


def test_unpicklable_pre_transform_in_process(tmp_path, fake, caplog):
    with caplog.at_level(logging.WARNING, logger=dataset_module.__name__):
        dataset = TPCSimDataset(str(tmp_path), num_events=4, chunk_size=2,
                                num_workers=2,
                                pre_transform=lambda data: data)

    assert 'cannot be pickled' in caplog.text
    assert fake.calls == [(0, 2), (2, 2)]
    assert len(dataset) == 4


@pytest.mark.parametrize('kwargs,message', [
    ({'num_events': 0}, 'positive num_events, got 0'),
    ({'seed': -1}, 'non-negative seed, got -1'),
    ({'chunk_size': 0}, 'positive chunk_size, got 0'),
    ({'num_workers': -2}, 'non-negative num_workers, got -2'),
    ({'config': {'noise_rat': 1.0}}, r"Unknown simulation settings \['noise_rat'\]"),
    ({'config': 3}, 'SimulationConfig or a mapping of its fields, got int'),
])
def test_invalid_arguments(tmp_path, kwargs, message):
    kwargs = {'num_events': 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        TPCSimDataset(str(tmp_path), **kwargs)


def test_seed_reproduces_across_workers_and_chunks(tmp_path):
    pytest.importorskip('pythia8mc')
    serial = TPCSimDataset(str(tmp_path / 'serial'), num_events=4, seed=3,
                           chunk_size=4)
    parallel = TPCSimDataset(str(tmp_path / 'parallel'), num_events=4,
                             seed=3, chunk_size=2, num_workers=2)
    direct = simulate_events(1, seed=3, first_event=3)[0]

    assert serial.settings_hash == parallel.settings_hash
    assert parallel.processed_file_names == ['chunk_0_1.pt', 'chunk_2_3.pt']
    for index in range(4):
        assert serial[index].num_nodes > 0
        assert_same_events(serial[index], parallel[index])
    assert_same_events(serial[3], direct)
    assert not torch.equal(serial[0].pos[:10], serial[1].pos[:10])
