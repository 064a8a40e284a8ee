import fractions
import os

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.data.separate import separate

from fm4npp_geo.data.chunks import (
    is_complete_chunk,
    load_chunk,
    remove_stale_temporaries,
    save_chunk,
)


def make_events():
    return [
        Data(pos=torch.arange(6.0).view(2, 3), particle_id=torch.tensor([1, 0]),
             edge_index=torch.tensor([[0], [1]]), num_nodes=2),
        Data(pos=torch.ones(3, 3), particle_id=torch.tensor([2, 2, 0]),
             edge_index=torch.tensor([[0, 1], [1, 2]]), num_nodes=3),
    ]


@pytest.mark.parametrize('count', [1, 2])
def test_chunk_round_trip(tmp_path, count):
    events = make_events()[:count]
    path = str(tmp_path / 'chunk.pt')
    save_chunk(events, path)
    data, slices = load_chunk(path, count)

    assert os.listdir(tmp_path) == ['chunk.pt']
    assert is_complete_chunk(path)
    for index, event in enumerate(events):
        loaded = separate(cls=Data, batch=data, idx=index, slice_dict=slices,
                          decrement=False)
        assert loaded.num_nodes == event.num_nodes
        assert torch.equal(loaded.pos, event.pos)
        assert torch.equal(loaded.edge_index, event.edge_index)


def test_chunk_wrong_event_count(tmp_path):
    path = str(tmp_path / 'chunk.pt')
    save_chunk(make_events(), path)
    with pytest.raises(RuntimeError, match='contains 2 events, expected 3'):
        load_chunk(path, 3)


def test_chunk_truncated(tmp_path):
    path = str(tmp_path / 'chunk.pt')
    save_chunk(make_events(), path)
    with open(path, 'r+b') as file:
        file.truncate(os.path.getsize(path) - 10)

    assert not is_complete_chunk(path)
    assert not is_complete_chunk(str(tmp_path / 'missing.pt'))
    with pytest.raises(RuntimeError, match='Failed to read chunk file'):
        load_chunk(path, 2)


def test_chunk_rejects_objects(tmp_path):
    event = make_events()[0]
    event.weight = fractions.Fraction(1, 3)
    path = str(tmp_path / 'chunk.pt')
    save_chunk([event], path)
    with pytest.raises(RuntimeError, match='only tensors and numbers'):
        load_chunk(path, 1)


def test_chunk_rejects_no_events(tmp_path):
    with pytest.raises(ValueError, match='at least one event'):
        save_chunk([], str(tmp_path / 'chunk.pt'))


def test_stale_temporaries_removed(tmp_path):
    stale = tmp_path / '.chunk_0_9.pt.999999999.tmp'
    running = tmp_path / f'.chunk_0_9.pt.{os.getppid()}.tmp'
    other = tmp_path / 'notes.tmp'
    for path in (stale, running, other):
        path.write_bytes(b'partial')
    remove_stale_temporaries(str(tmp_path))

    assert not stale.exists()
    assert running.exists()
    assert other.exists()
