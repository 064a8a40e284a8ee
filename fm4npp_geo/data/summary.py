"""Summary statistics of a set of events, accumulated one event at a time."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch_geometric.data import Data

#: Names of the ``pid_label`` classes, in label order.
PID_NAMES: tuple[str, ...] = ('other', 'pion', 'kaon', 'proton', 'electron')


def count_tracks(event: Data, min_hits: int = 3) -> int:
    r"""Count the particles of an event with at least :obj:`min_hits` hits,
    the tracks that tracking efficiency is measured on. Noise hits
    (``particle_id == 0``) belong to no particle.

    Args:
        event (Data): An event with ``particle_id`` [N].
        min_hits (int, optional): Minimum number of hits of a track.
            (default: :obj:`3`)

    Returns:
        int: The number of tracks.
    """
    particle = event.particle_id[event.particle_id != 0]
    if particle.numel() == 0:
        return 0
    _, counts = torch.unique(particle, return_counts=True)
    return int((counts >= min_hits).sum())


def summarize_events(events: Iterable[Data]) -> dict[str, Any]:
    r"""Compute the numbers that describe a simulated sample, reading each
    event once and keeping none, so that the events can be streamed from
    disk.

    Args:
        events (Iterable[Data]): Events with ``pos`` [N, 3] in cm,
            ``layer`` [N], ``particle_id`` [N], ``pid_label`` [N] and
            ``noise_label`` [N].

    Returns:
        dict: The statistics, with the keys

        - ``num_events``, and ``num_hits`` over all events,
        - ``mean_hits_per_event``, ``std_hits_per_event`` (population
          standard deviation),
        - ``mean_tracks_per_event``: particles with at least 3 hits, see
          :func:`count_tracks`,
        - ``noise_fraction``: hits with ``particle_id == 0`` over all hits,
        - ``noise_label_fraction``: hits with ``noise_label`` over all hits,
        - ``pid_fractions``: for each name in :data:`PID_NAMES`, its share of
          the hits with ``particle_id != 0``,
        - ``r_min``, ``r_max``: range of the transverse hit radius in cm, NaN
          when there are no hits,
        - ``num_layers_populated``: distinct ``layer`` values over all
          events.
    """
    num_events = 0
    num_hits = 0
    sum_squared_hits = 0
    num_tracks = 0
    num_noise = 0
    num_noise_label = 0
    pid_counts = torch.zeros(len(PID_NAMES), dtype=torch.long)
    r_min, r_max = math.inf, -math.inf
    layers: set[int] = set()

    for event in events:
        hits = event.num_nodes
        num_events += 1
        num_hits += hits
        sum_squared_hits += hits * hits
        num_tracks += count_tracks(event)
        if hits == 0:
            continue

        is_noise = event.particle_id == 0
        num_noise += int(is_noise.sum())
        num_noise_label += int(event.noise_label.sum())
        pid = event.pid_label[~is_noise]
        if pid.numel() > 0 and (pid.min() < 0 or pid.max() >= len(PID_NAMES)):
            raise ValueError(f"Expected pid_label values in [0, "
                             f"{len(PID_NAMES) - 1}], got "
                             f"{sorted(set(pid.unique().tolist()))}")
        pid_counts += torch.bincount(pid, minlength=len(PID_NAMES))
        r = torch.linalg.vector_norm(event.pos[:, :2].double(), dim=1)
        r_min = min(r_min, float(r.min()))
        r_max = max(r_max, float(r.max()))
        layers.update(event.layer.unique().tolist())

    if num_events == 0:
        raise ValueError("Expected at least one event to summarize, got none")

    mean_hits = num_hits / num_events
    variance = max(0.0, sum_squared_hits / num_events - mean_hits**2)
    num_particle_hits = int(pid_counts.sum())
    pid_fractions = {
        name: int(count) / num_particle_hits if num_particle_hits else 0.0
        for name, count in zip(PID_NAMES, pid_counts)
    }
    return {
        'num_events': num_events,
        'num_hits': num_hits,
        'mean_hits_per_event': mean_hits,
        'std_hits_per_event': math.sqrt(variance),
        'mean_tracks_per_event': num_tracks / num_events,
        'noise_fraction': num_noise / num_hits if num_hits else 0.0,
        'noise_label_fraction': (num_noise_label /
                                 num_hits if num_hits else 0.0),
        'pid_fractions': pid_fractions,
        'r_min': r_min if num_hits else math.nan,
        'r_max': r_max if num_hits else math.nan,
        'num_layers_populated': len(layers),
    }


def format_summary(summary: dict[str, Any]) -> str:
    r"""Format the output of :func:`summarize_events` as a few readable
    lines.

    Args:
        summary (dict): The output of :func:`summarize_events`.

    Returns:
        str: The lines, joined by newlines, without a final newline.
    """
    pid_mix = ', '.join(f'{name} {fraction:.1%}'
                        for name, fraction in summary['pid_fractions'].items())
    return '\n'.join([
        f"events:            {summary['num_events']}",
        f"hits/event:        {summary['mean_hits_per_event']:.1f} "
        f"(std {summary['std_hits_per_event']:.1f})",
        f"tracks/event:      {summary['mean_tracks_per_event']:.2f} "
        f"(particles with >= 3 hits)",
        f"noise fraction:    {summary['noise_fraction']:.3f} "
        f"(noise_label: {summary['noise_label_fraction']:.3f})",
        f"PID mix of hits:   {pid_mix}",
        f"hit radius:        {summary['r_min']:.1f} to "
        f"{summary['r_max']:.1f} cm",
        f"layers populated:  {summary['num_layers_populated']}",
    ])
