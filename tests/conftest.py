"""Shared fixtures: small TPC-like events built without the event generator."""

from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Data


def make_toy_event(num_particles: int, num_noise: int, seed: int) -> Data:
    """Build an event of straight radial tracks through 48 cylinders plus noise.

    Each particle leaves one hit per layer on a line from the origin; noise hits
    are uniform in the same volume. Enough structure for training smoke tests.
    """
    generator = torch.Generator().manual_seed(seed)
    radii = torch.linspace(31.4, 75.4, 48)
    positions, energies, layers, particles = [], [], [], []
    for particle in range(1, num_particles + 1):
        phi = (torch.rand((), generator=generator) * 2 - 1) * math.pi
        cot_theta = (torch.rand((), generator=generator) * 2 - 1) * 1.2
        curvature = (torch.rand((), generator=generator) * 2 - 1) * 2e-3
        track_phi = phi + curvature * radii
        positions.append(torch.stack([radii * track_phi.cos(), radii * track_phi.sin(), radii * cot_theta], -1))
        energies.append(torch.full((48,), 1.0) + torch.rand(48, generator=generator))
        layers.append(torch.arange(48))
        particles.append(torch.full((48,), particle))
    if num_noise:
        layer = torch.randint(0, 48, (num_noise,), generator=generator)
        phi = (torch.rand(num_noise, generator=generator) * 2 - 1) * math.pi
        z = (torch.rand(num_noise, generator=generator) * 2 - 1) * 90
        positions.append(torch.stack([radii[layer] * phi.cos(), radii[layer] * phi.sin(), z], -1))
        energies.append(torch.rand(num_noise, generator=generator))
        layers.append(layer)
        particles.append(torch.zeros(num_noise, dtype=torch.long))
    particle_id = torch.cat(particles)
    return Data(
        pos=torch.cat(positions).float(),
        energy=torch.cat(energies).float(),
        layer=torch.cat(layers),
        particle_id=particle_id,
        pid_label=torch.zeros_like(particle_id),
        noise_label=particle_id == 0,
        particle_pt=(particle_id > 0).float(),
        particle_eta=torch.zeros(particle_id.numel()),
    )


@pytest.fixture
def toy_events() -> list[Data]:
    return [make_toy_event(num_particles=6 + i % 3, num_noise=10, seed=i) for i in range(12)]
