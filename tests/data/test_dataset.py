import os

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

import fm4npp_geo.data.dataset as dataset_module
from fm4npp_geo.data import SimulationConfig, TPCSimDataset


def fake_simulate_events(num_events, seed, config, geometry):
    rng = np.random.default_rng(seed)
    return [
        Data(pos=torch.from_numpy(rng.normal(size=(5 + i, 3))).float(),
             particle_id=torch.arange(5 + i), num_nodes=5 + i)
        for i in range(num_events)
    ]


def fail_simulate_events(*args, **kwargs):
    raise AssertionError('the dataset simulated again instead of loading')


def test_dataset_caches_and_reloads(tmp_path, monkeypatch):
    pytest.importorskip('pythia8mc')
    first = TPCSimDataset(str(tmp_path), num_events=3, seed=2)
    folder = tmp_path / 'processed' / first.settings_hash
    files = sorted(os.listdir(folder))

    monkeypatch.setattr(dataset_module, 'simulate_events',
                        fail_simulate_events)
    second = TPCSimDataset(str(tmp_path), num_events=3, seed=2)

    assert len(first) == len(second) == 3
    for a, b in zip(first, second):
        assert a.num_nodes > 0
        assert torch.equal(a.pos, b.pos)
        assert torch.equal(a.particle_id, b.particle_id)
        assert torch.equal(a.particles, b.particles)
    assert sorted(os.listdir(folder)) == files
    assert 'tpc_sim_n3_seed2_' + first.settings_hash + '.pt' in files
    assert not any(name.endswith('.tmp') for name in files)


def test_file_name_encodes_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_module, 'simulate_events',
                        fake_simulate_events)
    base = TPCSimDataset(str(tmp_path), num_events=2, seed=1)
    noisy = TPCSimDataset(str(tmp_path), num_events=2, seed=1,
                          config=SimulationConfig(noise_rate=5.0))
    other_seed = TPCSimDataset(str(tmp_path), num_events=2, seed=4)

    names = {base.processed_file_names[0], noisy.processed_file_names[0],
             other_seed.processed_file_names[0]}
    assert len(names) == 3
    assert base.processed_file_names[0].startswith('tpc_sim_n2_seed1_')
    assert not torch.equal(base[0].pos, other_seed[0].pos)


def test_pre_transform_applied_once(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_module, 'simulate_events',
                        fake_simulate_events)

    def double_pos(data):
        data.pos = 2 * data.pos
        return data

    plain = TPCSimDataset(str(tmp_path), num_events=1, seed=0)
    doubled = TPCSimDataset(str(tmp_path), num_events=1, seed=0,
                            pre_transform=double_pos)

    assert torch.allclose(doubled[0].pos, 2 * plain[0].pos)


def test_invalid_num_events(tmp_path):
    with pytest.raises(ValueError, match='positive num_events'):
        TPCSimDataset(str(tmp_path), num_events=0)
