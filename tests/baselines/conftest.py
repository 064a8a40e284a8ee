"""Synthetic TPC-like events and shared set-up for the baseline tests."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

#: Pad-row radii in cm of a TPC with 48 layers between 31.4 and 75.4 cm.
LAYER_RADII = np.linspace(31.4, 75.4, 48)
#: Half length of the TPC in cm.
HALF_LENGTH = 105.0
#: Solenoid field in tesla.
B_FIELD = 1.4


def make_synthetic_event(
    seed: int,
    num_particles: int = 15,
    num_noise: int = 40,
    pt_range: tuple[float, float] = (0.5, 3.0),
    eta_max: float = 1.0,
    hit_efficiency: float = 0.95,
    smearing: float = 0.05,
) -> Data:
    """Generate one event of helices from the origin through the TPC layers.

    Each particle has transverse momentum ``pt`` in GeV, pseudorapidity up to
    ``eta_max`` and charge +-1. A track of curvature radius
    ``R = pt / (0.3 B)`` reaches the layer of radius ``r`` at azimuth
    ``phi0 - q asin(r / 2R)`` after the transverse arc ``2R asin(r / 2R)``.
    Hits are kept with probability ``hit_efficiency`` and inside the TPC, and
    smeared by ``smearing`` cm along r-phi and z. Noise hits are uniform over
    layers, azimuth and z. Hits are shuffled, and particle ids are random
    positive integers (0 is noise).
    """
    rng = np.random.default_rng(seed)
    positions, particle_ids, layers = [], [], []
    particle_labels = rng.choice(np.arange(1, 100_000), num_particles, replace=False)

    for particle in particle_labels:
        pt = rng.uniform(*pt_range)
        eta = rng.uniform(-eta_max, eta_max)
        phi0 = rng.uniform(-math.pi, math.pi)
        charge = rng.choice([-1.0, 1.0])
        curvature_radius = pt / (0.3 * B_FIELD) * 100.0  # cm

        alpha = np.arcsin(np.minimum(LAYER_RADII / (2.0 * curvature_radius), 1.0))
        phi = phi0 - charge * alpha
        z = 2.0 * curvature_radius * alpha * math.sinh(eta)
        keep = (np.abs(z) <= HALF_LENGTH) & (rng.random(LAYER_RADII.size) < hit_efficiency)

        layer = np.flatnonzero(keep)
        positions.append(np.stack([LAYER_RADII[layer], phi[layer], z[layer]], axis=1))
        particle_ids.append(np.full(layer.size, particle))
        layers.append(layer)

    noise_layer = rng.integers(0, LAYER_RADII.size, num_noise)
    positions.append(
        np.stack(
            [
                LAYER_RADII[noise_layer],
                rng.uniform(-math.pi, math.pi, num_noise),
                rng.uniform(-HALF_LENGTH, HALF_LENGTH, num_noise),
            ],
            axis=1,
        )
    )
    particle_ids.append(np.zeros(num_noise, dtype=np.int64))
    layers.append(noise_layer)

    r, phi, z = np.concatenate(positions).T
    phi = phi + rng.normal(0.0, smearing, r.size) / r
    z = z + rng.normal(0.0, smearing, r.size)
    pos = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)

    order = rng.permutation(r.size)
    return Data(
        pos=torch.tensor(pos[order], dtype=torch.float32),
        particle_id=torch.tensor(np.concatenate(particle_ids)[order], dtype=torch.long),
        layer=torch.tensor(np.concatenate(layers)[order], dtype=torch.long),
    )


@pytest.fixture
def synthetic_events() -> Callable[..., list[Data]]:
    """Return a factory ``(num_events, first_seed, **options) -> events``."""

    def make(num_events: int, first_seed: int = 0, **options) -> list[Data]:
        return [
            make_synthetic_event(first_seed + i, **options) for i in range(num_events)
        ]

    return make


@pytest.fixture(autouse=True)
def single_intra_op_thread() -> Iterator[None]:
    """Run each test with one PyTorch intra-op thread.

    The tests train small models on small events, where splitting each
    operation across threads mostly adds synchronization. On a machine whose
    cores are busy with other processes, two threads made the training tests
    about 40 times slower than one (measured on 2 shared cores).
    """
    num_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(num_threads)
