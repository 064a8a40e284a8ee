import sys

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from fm4npp_geo.data.display import plot_event

pytest.importorskip('matplotlib')


@pytest.fixture
def event():
    # Particle 1 has 4 hits, particle 2 has 2, and 2 hits are noise.
    angle = torch.linspace(0.0, 3.0, 8)
    radius = torch.linspace(31.0, 75.0, 8)
    pos = torch.stack([radius * angle.cos(), radius * angle.sin(),
                       torch.linspace(-50.0, 50.0, 8)], dim=1)
    return Data(pos=pos, particle_id=torch.tensor([1, 1, 1, 1, 2, 2, 0, 0]),
                num_nodes=8)


def collection(axis, label):
    matches = [item for item in axis.collections if item.get_label() == label]
    assert len(matches) == 1
    return matches[0]


def test_display_writes_png(tmp_path, event):
    predictions = {
        'a': torch.tensor([0, 0, 0, 1, 1, 1, -1, -1]),
        'b': torch.full((8, ), -1),
    }
    path = tmp_path / 'plots' / 'event.png'
    figure = plot_event(event, predictions, path=path)

    assert len(figure.axes) == 6
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    titles = [axis.get_title() for axis in figure.axes]
    assert titles[:3] == ['truth', 'a', 'b']


def test_display_truth_only(event):
    figure = plot_event(event)

    assert len(figure.axes) == 2
    assert figure.axes[0].get_xlabel() == 'x [cm]'
    assert figure.axes[1].get_xlabel() == 'z [cm]'
    assert figure.axes[1].get_ylabel() == 'r [cm]'


def test_display_colors_largest_tracks(event):
    figure = plot_event(event, max_tracks_colored=1)
    top = figure.axes[0]

    noise = collection(top, 'unassigned').get_offsets()
    other = collection(top, 'other tracks').get_offsets()
    colored = collection(top, 'tracks').get_offsets()
    assert np.allclose(noise, event.pos[6:, :2].numpy())
    assert np.allclose(other, event.pos[4:6, :2].numpy())
    assert np.allclose(colored, event.pos[:4, :2].numpy())


def test_display_rz_view(event):
    figure = plot_event(event)
    bottom = figure.axes[1]

    colored = collection(bottom, 'tracks').get_offsets()
    radius = event.pos[:6, :2].norm(dim=1)
    assert np.allclose(colored[:, 0], event.pos[:6, 2].numpy())
    assert np.allclose(colored[:, 1], radius.numpy(), atol=1e-4)


def test_display_rejects_wrong_length(event):
    with pytest.raises(ValueError, match=r"predictions\['a'\] of shape"):
        plot_event(event, {'a': torch.zeros(3, dtype=torch.long)})


def test_display_without_matplotlib(event, monkeypatch):
    monkeypatch.setitem(sys.modules, 'matplotlib.figure', None)
    with pytest.raises(ImportError, match='pip install matplotlib'):
        plot_event(event)
