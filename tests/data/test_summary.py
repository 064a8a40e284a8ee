import math

import pytest
import torch
from torch_geometric.data import Data

from fm4npp_geo.data.summary import (
    count_tracks,
    format_summary,
    summarize_events,
)


def make_event(pos, particle_id, pid_label, noise_label, layer):
    return Data(
        pos=torch.tensor(pos, dtype=torch.float32).reshape(-1, 3),
        particle_id=torch.tensor(particle_id),
        pid_label=torch.tensor(pid_label),
        noise_label=torch.tensor(noise_label),
        layer=torch.tensor(layer),
        num_nodes=len(particle_id),
    )


@pytest.fixture
def events():
    first = make_event(
        pos=[[30.0, 40.0, 1.0], [0.0, 60.0, -2.0], [-70.0, 0.0, 0.0],
             [0.0, -35.0, 5.0], [33.0, 0.0, 9.0]],
        particle_id=[1, 1, 1, 2, 0],
        pid_label=[1, 1, 1, 3, 0],
        noise_label=[False, False, False, True, True],
        layer=[0, 1, 2, 2, 5],
    )
    second = make_event(
        pos=[[32.0, 0.0, 0.0], [0.0, 75.0, 0.0], [40.0, 0.0, 0.0]],
        particle_id=[0, 0, 0],
        pid_label=[0, 0, 0],
        noise_label=[True, True, True],
        layer=[0, 0, 7],
    )
    return [first, second]


def test_count_tracks_min_hits(events):
    assert count_tracks(events[0]) == 1
    assert count_tracks(events[0], min_hits=1) == 2
    assert count_tracks(events[1]) == 0


def test_summary_exact_values(events):
    summary = summarize_events(iter(events))

    assert summary['num_events'] == 2
    assert summary['num_hits'] == 8
    assert summary['mean_hits_per_event'] == 4.0
    assert summary['std_hits_per_event'] == 1.0
    assert summary['mean_tracks_per_event'] == 0.5
    assert summary['noise_fraction'] == 0.5
    assert summary['noise_label_fraction'] == 0.625
    assert summary['pid_fractions'] == {
        'other': 0.0, 'pion': 0.75, 'kaon': 0.0, 'proton': 0.25,
        'electron': 0.0}
    assert summary['r_min'] == pytest.approx(32.0)
    assert summary['r_max'] == pytest.approx(75.0)
    assert summary['num_layers_populated'] == 5


def test_summary_event_without_hits():
    empty = make_event(pos=[], particle_id=[],
                       pid_label=[], noise_label=[], layer=[])
    summary = summarize_events([empty])

    assert summary['num_hits'] == 0
    assert summary['noise_fraction'] == 0.0
    assert math.isnan(summary['r_min'])
    assert summary['num_layers_populated'] == 0


def test_summary_rejects_no_events():
    with pytest.raises(ValueError, match='at least one event'):
        summarize_events([])


def test_summary_rejects_bad_pid(events):
    events[0].pid_label[0] = 7
    with pytest.raises(ValueError, match=r'pid_label values in \[0, 4\]'):
        summarize_events(events)


def test_format_summary_lines(events):
    text = format_summary(summarize_events(events))
    lines = text.splitlines()

    assert len(lines) == 7
    assert lines[0] == 'events:            2'
    assert lines[1] == 'hits/event:        4.0 (std 1.0)'
    assert lines[2].startswith('tracks/event:      0.50')
    assert 'pion 75.0%' in text
    assert 'proton 25.0%' in text
    assert lines[5] == 'hit radius:        32.0 to 75.0 cm'
    assert lines[6] == 'layers populated:  5'
