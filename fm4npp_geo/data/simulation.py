"""Fast TPC simulation: from generated particles to one PyG event of hits."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Protocol

import numpy as np
import torch
from torch_geometric.data import Data

from fm4npp_geo.data.energy_loss import bethe_bloch, moyal_fluctuation
from fm4npp_geo.data.geometry import TPCGeometry
from fm4npp_geo.data.particles import ParticleTable, pid_labels
from fm4npp_geo.data.pythia import PythiaEventGenerator
from fm4npp_geo.data.response import (
    drift_smearing,
    largest_in_group,
    merge_close_hits,
    noise_hits,
)
from fm4npp_geo.data.simulation_config import SimulationConfig
from fm4npp_geo.data.transport import transport

__all__ = ['SimulationConfig', 'make_event_source', 'simulate_event',
           'simulate_events']

logger = logging.getLogger(__name__)

#: Charged-pion mass in GeV.
PION_MASS = 0.13957039

#: beta * gamma of a minimum-ionizing particle in argon (the minimum of the
#: Bethe-Bloch curve lies between 3 and 4).
MIP_BETA_GAMMA = 3.5

#: Stream number that separates the detector random numbers of an event from
#: the generator's primary-vertex stream, which is seeded with (seed, index).
_DETECTOR_STREAM = 1

class EventSource(Protocol):
    r"""Anything that returns the particles of event :obj:`index` of a run."""

    def generate(self, index: int) -> ParticleTable:
        ...


def make_event_source(config: SimulationConfig, seed: int) -> EventSource:
    r"""Build the event source of :obj:`config` for run :obj:`seed`."""
    if config.source == 'gun':
        return dataclasses.replace(config.gun, seed=seed)
    return PythiaEventGenerator(
        seed=seed,
        energy=config.energy,
        processes=config.processes,
        vertex_sigma_z=config.vertex_sigma_z,
        settings=config.pythia_settings,
        collision_system=config.collision_system,
        pileup_mean=config.pileup_mean,
    )


def _preselect(particles: ParticleTable, geometry: TPCGeometry,
               config: SimulationConfig) -> np.ndarray:
    keep = particles.charge != 0.0
    keep &= particles.pt >= config.min_pt
    keep &= np.abs(particles.eta) <= geometry.max_abs_eta + config.eta_margin
    return np.flatnonzero(keep)


def simulate_event(
    particles: ParticleTable,
    geometry: TPCGeometry,
    config: SimulationConfig,
    rng: np.random.Generator,
) -> Data:
    r"""Turn the charged particles of one event into TPC hits.

    Charged particles are transported through the rows (see
    :func:`~fm4npp_geo.data.transport.transport`). A crossing deposits the
    Bethe-Bloch mean energy loss for the particle's :math:`\beta\gamma` there,
    times the path length through the row, times a Moyal fluctuation. Its
    :math:`r\phi` and :math:`z` are smeared by widths that grow with the drift
    length, and its radius stays the row radius. Noise hits are added uniformly in
    row, :math:`\phi` and :math:`z`, and close hits are merged when
    :obj:`config.merge_hits` is set. Hits are ordered by layer, then azimuth,
    so their order carries no truth.

    Args:
        particles (ParticleTable): Generated particles, vertices in cm.
        geometry (TPCGeometry): The TPC.
        config (SimulationConfig): Transport and response settings.
        rng (np.random.Generator): Source of the detector randomness.

    Returns:
        Data: One event with ``pos`` [N, 3], ``energy`` [N], ``layer`` [N],
        ``particle_id`` [N] (``i + 1`` for the particle in row ``i`` of
        ``particles``, 0 for noise), ``pid_label`` [N], ``noise_label`` [N],
        ``particle_pt`` [N], ``particle_eta`` [N], ``particle_vertex_r`` [N],
        ``particle_charge`` [N] and ``is_primary`` [N] (0 or false for
        noise). ``particles`` [P, 13] in ``float64`` holds every charged
        particle of the input with the columns of
        :data:`~fm4npp_geo.data.particles.PARTICLE_COLUMNS`, also those that
        leave no hit.
    """
    particles = particles.select(particles.charge != 0.0)
    selected = _preselect(particles, geometry, config)
    radii = geometry.layer_radii

    # 1. Transport; crossing.particle indexes `selected`.
    crossing = transport(
        vertex=np.stack([particles.vx, particles.vy, particles.vz],
                        axis=1)[selected],
        momentum=np.stack([particles.px, particles.py, particles.pz],
                          axis=1)[selected],
        charge=particles.charge[selected],
        mass=particles.mass[selected],
        geometry=geometry,
        rng=rng,
        medium=config.medium,
        energy_loss=config.energy_loss,
        multiple_scattering=config.multiple_scattering,
        max_turns=config.max_turns,
    )
    particle_index = selected[crossing.particle]
    layer = crossing.layer
    num_track_hits = layer.shape[0]

    # 2. Energy deposits.
    dedx = bethe_bloch(crossing.beta_gamma, particles.mass[particle_index],
                       particles.charge[particle_index], config.medium)
    deposit = dedx * crossing.path_length
    deposit *= moyal_fluctuation(num_track_hits, rng,
                                 config.dedx_relative_width)

    # 3. Noise hits with the deposit of a minimum-ionizing particle crossing
    # the row radially, so that only their position sets them apart.
    num_noise = int(rng.poisson(config.noise_rate))
    noise_layer, noise_phi, noise_z = noise_hits(num_noise, geometry, rng)
    mip_dedx = bethe_bloch(MIP_BETA_GAMMA, PION_MASS, 1.0, config.medium)
    noise_deposit = (mip_dedx * geometry.row_thickness[noise_layer] *
                     moyal_fluctuation(num_noise, rng,
                                       config.dedx_relative_width))

    # 4. Smearing along the row and in z, wider after a longer drift.
    hit_pos = crossing.pos
    z_true = hit_pos[:, 2]
    phi = np.arctan2(hit_pos[:, 1], hit_pos[:, 0])
    sigma_rphi = drift_smearing(z_true, geometry, config.sigma_rphi,
                                config.diffusion_rphi)
    sigma_z = drift_smearing(z_true, geometry, config.sigma_z,
                             config.diffusion_z)
    phi = phi + rng.standard_normal(num_track_hits) * sigma_rphi / radii[layer]
    z = z_true + rng.standard_normal(num_track_hits) * sigma_z

    all_layer = np.concatenate([layer, noise_layer])
    all_phi = np.concatenate([phi, noise_phi])
    all_z = np.concatenate([z, noise_z])
    energy = config.energy_scale * np.concatenate([deposit, noise_deposit])
    hit_particle = np.concatenate(
        [particle_index, np.full(num_noise, -1, dtype=np.int64)])

    # 5. Optional merging of hits the readout cannot separate.
    if config.merge_hits:
        group, all_layer, all_phi, all_z, energy = merge_close_hits(
            all_layer, all_phi, all_z, energy, radii, config.pad_width,
            config.time_bin)
        keep = largest_in_group(group, np.concatenate([deposit,
                                                        noise_deposit]),
                                all_layer.shape[0])
        hit_particle = hit_particle[keep]

    return _build_event(particles, geometry, config, all_layer, all_phi,
                        all_z, energy, hit_particle)


def _build_event(particles: ParticleTable, geometry: TPCGeometry,
                 config: SimulationConfig, layer: np.ndarray,
                 phi: np.ndarray, z: np.ndarray, energy: np.ndarray,
                 hit_particle: np.ndarray) -> Data:
    # Per-hit truth; hit_particle is -1 for noise, and particle_id counts
    # from 1 so that 0 means noise.
    is_track = hit_particle >= 0
    source = np.where(is_track, hit_particle, 0)

    def per_hit(values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        if values.shape[0] == 0:
            return np.full(hit_particle.shape[0], fill)
        return np.where(is_track, values[source], fill)

    pt = particles.pt
    vertex_r = np.hypot(particles.vx, particles.vy)
    particle_id = hit_particle + 1
    num_hits = np.bincount(hit_particle[is_track], minlength=len(particles))

    order = np.lexsort((phi, layer))
    r = geometry.layer_radii[layer]
    pos = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)

    def tensor(values: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(values[order])).to(dtype)

    return Data(
        pos=tensor(pos, torch.float32),
        energy=tensor(energy, torch.float32),
        layer=tensor(layer, torch.long),
        particle_id=tensor(particle_id, torch.long),
        pid_label=tensor(per_hit(pid_labels(particles.pdg)), torch.long),
        noise_label=tensor(
            ~is_track | (per_hit(pt, np.inf) < config.noise_pt_threshold),
            torch.bool),
        particle_pt=tensor(per_hit(pt), torch.float32),
        particle_eta=tensor(per_hit(particles.eta), torch.float32),
        particle_vertex_r=tensor(per_hit(vertex_r), torch.float32),
        particle_charge=tensor(per_hit(particles.charge), torch.float32),
        is_primary=tensor(per_hit(particles.is_primary, False), torch.bool),
        particles=torch.from_numpy(particles.to_array(num_hits)),
        num_nodes=int(order.shape[0]),
    )


def simulate_events(
    num_events: int,
    seed: int = 0,
    config: SimulationConfig | None = None,
    geometry: TPCGeometry | None = None,
    first_event: int = 0,
) -> list[Data]:
    r"""Generate events with the configured source and simulate their TPC
    hits.

    Event :obj:`i` depends only on (:obj:`seed`, :obj:`i`), the config and the
    geometry, so a run can be split into chunks with :obj:`first_event`.

    Args:
        num_events (int): Number of events.
        seed (int, optional): Non-negative run seed. (default: :obj:`0`)
        config (SimulationConfig, optional): Settings; the defaults when
            :obj:`None`. (default: :obj:`None`)
        geometry (TPCGeometry, optional): The TPC; the sPHENIX-like default
            when :obj:`None`. (default: :obj:`None`)
        first_event (int, optional): Index of the first event.
            (default: :obj:`0`)

    Returns:
        list[Data]: One event per entry, as built by :func:`simulate_event`.
    """
    if num_events < 0:
        raise ValueError(f"Expected a non-negative num_events, got "
                         f"{num_events}")
    if first_event < 0:
        raise ValueError(f"Expected a non-negative first_event, got "
                         f"{first_event}")
    config = config or SimulationConfig()
    geometry = geometry or TPCGeometry()
    source = make_event_source(config, seed)

    start = time.perf_counter()
    events = []
    for index in range(first_event, first_event + num_events):
        particles = source.generate(index)
        rng = np.random.default_rng([seed, index, _DETECTOR_STREAM])
        events.append(simulate_event(particles, geometry, config, rng))
    seconds = time.perf_counter() - start
    logger.info("Simulated %d events with seed %d in %.1f s", num_events,
                seed, seconds)
    return events
