"""Fast TPC response: from generated particles to one PyG event of hits."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric.data import Data

from fm4npp_geo.data.energy_loss import (
    ARGON_GAS,
    GasMedium,
    bethe_bloch,
    moyal_fluctuation,
)
from fm4npp_geo.data.geometry import TPCGeometry
from fm4npp_geo.data.particles import ParticleTable, pid_labels
from fm4npp_geo.data.propagation import propagate_to_layers
from fm4npp_geo.data.pythia import PythiaEventGenerator

logger = logging.getLogger(__name__)

#: Charged-pion mass in GeV.
PION_MASS = 0.13957039

#: beta * gamma of a minimum-ionizing particle in argon (the minimum of the
#: Bethe-Bloch curve lies between 3 and 4).
MIP_BETA_GAMMA = 3.5

#: Stream number that separates the detector random numbers of an event from
#: the generator's primary-vertex stream, which is seeded with (seed, index).
_DETECTOR_STREAM = 1


@dataclass(frozen=True)
class SimulationConfig:
    r"""Settings of the event generator and the TPC response.

    Args:
        energy (float, optional): Centre-of-mass energy of the p+p collisions
            in GeV, that of RHIC. (default: :obj:`200.0`)
        processes (tuple[str, ...], optional): PYTHIA settings that switch on
            the processes. Non-diffractive events are the bulk of minimum
            bias and give tracks in the central TPC acceptance.
            (default: :obj:`("SoftQCD:nonDiffractive = on",)`)
        vertex_sigma_z (float, optional): Gaussian width in cm of the
            primary-vertex :math:`z`. An assumed collision region, narrow
            enough that most events keep their tracks inside
            :math:`|z| \le 105` cm. (default: :obj:`10.0`)
        sigma_rphi (float, optional): Gaussian smearing in cm of a hit along
            the row, :math:`r\phi`. An assumed single-hit resolution of the
            order of a GEM-readout TPC, not a measured sPHENIX value.
            (default: :obj:`0.015`)
        sigma_z (float, optional): Gaussian smearing in cm of a hit along
            :math:`z`, from the drift time; assumed, as :obj:`sigma_rphi`.
            (default: :obj:`0.05`)
        noise_rate (float, optional): Mean number of random noise hits per
            event (Poisson), spread uniformly over rows, :math:`\phi` and
            :math:`z`. With the other defaults it makes about a tenth of the
            hits noise. (default: :obj:`60.0`)
        min_pt (float, optional): Particles below this transverse momentum in
            GeV are dropped before propagation. The default keeps every
            particle, because the helix decides exactly which rows it reaches.
            (default: :obj:`0.0`)
        eta_margin (float, optional): Particles with
            :math:`|\eta| > \eta_{acc} + \text{margin}` are dropped before
            propagation, where :math:`\eta_{acc}` (1.93 by default) is the
            largest :math:`|\eta|` that reaches the first row from the origin.
            With a margin of 1 a particle from the beam line with
            :math:`|z_0| \le 105` cm is dropped only when it cannot reach the
            first row inside the TPC. Decay daughters produced close to the
            first row can be lost. (default: :obj:`1.0`)
        noise_pt_threshold (float, optional): Hits of particles below this
            transverse momentum in GeV get ``noise_label = True``; such
            particles curl up with radius under 14.3 cm in 1.4 T.
            (default: :obj:`0.06`)
        energy_scale (float, optional): ADC-like counts per keV deposited. A
            minimum-ionizing particle crossing radially then gives about 140
            counts in an inner row and 300 in an outer one.
            (default: :obj:`100.0`)
        dedx_relative_width (float, optional): Width of the Moyal fluctuation
            of each deposit relative to its mean; 0.25 puts the most probable
            deposit about 30% below the mean, the shape of energy loss in a
            thin gas layer. (default: :obj:`0.25`)
        medium (GasMedium, optional): Gas of the TPC for the Bethe-Bloch
            formula. sPHENIX runs an argon-based mixture.
            (default: :data:`ARGON_GAS`)
    """

    energy: float = 200.0
    processes: tuple[str, ...] = ('SoftQCD:nonDiffractive = on', )
    vertex_sigma_z: float = 10.0
    sigma_rphi: float = 0.015
    sigma_z: float = 0.05
    noise_rate: float = 60.0
    min_pt: float = 0.0
    eta_margin: float = 1.0
    noise_pt_threshold: float = 0.06
    energy_scale: float = 100.0
    dedx_relative_width: float = 0.25
    medium: GasMedium = ARGON_GAS

    def __post_init__(self) -> None:
        object.__setattr__(self, 'processes', tuple(self.processes))
        non_negative = ('vertex_sigma_z', 'sigma_rphi', 'sigma_z',
                        'noise_rate', 'min_pt', 'eta_margin',
                        'noise_pt_threshold', 'dedx_relative_width')
        for name in non_negative:
            value = getattr(self, name)
            if not value >= 0.0:
                raise ValueError(f"Expected a non-negative '{name}', got "
                                 f"{value}")
        if not self.energy > 0.0:
            raise ValueError(f"Expected a positive 'energy' in GeV, got "
                             f"{self.energy}")
        if not self.energy_scale > 0.0:
            raise ValueError(f"Expected a positive 'energy_scale', got "
                             f"{self.energy_scale}")


def _preselect(particles: ParticleTable, geometry: TPCGeometry,
               config: SimulationConfig) -> ParticleTable:
    keep = particles.charge != 0.0
    keep &= particles.pt >= config.min_pt
    keep &= np.abs(particles.eta) <= geometry.max_abs_eta + config.eta_margin
    return particles.select(keep)


def simulate_event(
    particles: ParticleTable,
    geometry: TPCGeometry,
    config: SimulationConfig,
    rng: np.random.Generator,
) -> Data:
    r"""Turn the charged particles of one event into TPC hits.

    Each particle is propagated on a helix to every pad row (see
    :func:`~fm4npp_geo.data.propagation.propagate_to_layers`). A crossing
    deposits the Bethe-Bloch mean energy loss times the path length through
    the row, times a Moyal fluctuation, and is smeared in :math:`r\phi` and
    :math:`z`; its radius stays the row radius. Noise hits are added uniformly
    in row, :math:`\phi` and :math:`z`. Hits are ordered by layer, then
    azimuth, so their order carries no truth.

    Args:
        particles (ParticleTable): Generated particles, vertices in cm.
        geometry (TPCGeometry): The TPC.
        config (SimulationConfig): Response settings.
        rng (np.random.Generator): Source of the detector randomness.

    Returns:
        Data: One event with ``pos`` [N, 3], ``energy`` [N], ``layer`` [N],
        ``particle_id`` [N] (``i + 1`` for the particle in row ``i`` of
        ``particles``, 0 for noise), ``pid_label`` [N], ``noise_label`` [N],
        ``particle_pt`` [N] and ``particle_eta`` [N]. The event also stores
        ``particles`` [P, 9] in ``float64``, with the columns of :data:`~fm4npp_geo.data.particles.PARTICLE_COLUMNS` for the
        :math:`P` particles kept after preselection.
    """
    particles = _preselect(particles, geometry, config)
    radii, thickness = geometry.layer_radii, geometry.row_thickness

    # 1. Crossings of every particle with every row.
    crossings = propagate_to_layers(
        vertex=np.stack([particles.vx, particles.vy, particles.vz], axis=1),
        momentum=np.stack([particles.px, particles.py, particles.pz], axis=1),
        charge=particles.charge,
        layer_radii=radii,
        row_thickness=thickness,
        z_max=geometry.z_max,
        magnetic_field=geometry.magnetic_field,
    )
    particle_index, layer = np.nonzero(crossings.mask)
    num_track_hits = particle_index.shape[0]

    # 2. Energy deposits.
    dedx = bethe_bloch(particles.p / particles.mass, particles.mass,
                       particles.charge, config.medium)  # keV / cm
    deposit = (dedx[particle_index] *
               crossings.path_length[particle_index, layer])
    deposit *= moyal_fluctuation(num_track_hits, rng,
                                 config.dedx_relative_width)

    # 3. Position smearing along the row and in z.
    hit_pos = crossings.pos[particle_index, layer]
    phi = np.arctan2(hit_pos[:, 1], hit_pos[:, 0])
    phi += rng.normal(0.0, config.sigma_rphi, num_track_hits) / radii[layer]
    z = hit_pos[:, 2] + rng.normal(0.0, config.sigma_z, num_track_hits)

    # 4. Noise hits with the deposit of a minimum-ionizing particle crossing
    # the row radially, so that only their position sets them apart.
    num_noise = int(rng.poisson(config.noise_rate))
    noise_layer = rng.integers(0, geometry.num_layers, num_noise)
    noise_phi = rng.uniform(-np.pi, np.pi, num_noise)
    noise_z = rng.uniform(-geometry.z_max, geometry.z_max, num_noise)
    mip_dedx = bethe_bloch(MIP_BETA_GAMMA, PION_MASS, 1.0, config.medium)
    noise_deposit = mip_dedx * thickness[noise_layer] * moyal_fluctuation(
        num_noise, rng, config.dedx_relative_width)

    # 5. Per-hit truth. particle_id counts from 1 so that 0 means noise.
    pt, eta = particles.pt, particles.eta
    all_layer = np.concatenate([layer, noise_layer])
    all_phi = np.concatenate([phi, noise_phi])
    all_z = np.concatenate([z, noise_z])
    energy = config.energy_scale * np.concatenate([deposit, noise_deposit])
    particle_id = np.concatenate(
        [particle_index + 1, np.zeros(num_noise, dtype=np.int64)])
    pid = np.concatenate([
        pid_labels(particles.pdg)[particle_index],
        np.zeros(num_noise, dtype=np.int64)
    ])
    hit_pt = np.concatenate([pt[particle_index], np.zeros(num_noise)])
    hit_eta = np.concatenate([eta[particle_index], np.zeros(num_noise)])
    noise_label = np.concatenate([
        pt[particle_index] < config.noise_pt_threshold,
        np.ones(num_noise, dtype=bool)
    ])

    # 6. Fixed order: by layer, then azimuth.
    order = np.lexsort((all_phi, all_layer))
    r = radii[all_layer]
    pos = np.stack([r * np.cos(all_phi), r * np.sin(all_phi), all_z], axis=1)

    return Data(
        pos=torch.from_numpy(pos[order]).float(),
        energy=torch.from_numpy(energy[order]).float(),
        layer=torch.from_numpy(all_layer[order]).long(),
        particle_id=torch.from_numpy(particle_id[order]).long(),
        pid_label=torch.from_numpy(pid[order]).long(),
        noise_label=torch.from_numpy(noise_label[order]),
        particle_pt=torch.from_numpy(hit_pt[order]).float(),
        particle_eta=torch.from_numpy(hit_eta[order]).float(),
        particles=torch.from_numpy(particles.to_array()),
        num_nodes=int(order.shape[0]),
    )


def simulate_events(
    num_events: int,
    seed: int = 0,
    config: SimulationConfig | None = None,
    geometry: TPCGeometry | None = None,
    first_event: int = 0,
) -> list[Data]:
    r"""Generate p+p events with PYTHIA 8 and simulate their TPC hits.

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
    config = config or SimulationConfig()
    geometry = geometry or TPCGeometry()
    generator = PythiaEventGenerator(
        seed=seed,
        energy=config.energy,
        processes=config.processes,
        vertex_sigma_z=config.vertex_sigma_z,
    )

    start = time.perf_counter()
    events = []
    for index in range(first_event, first_event + num_events):
        particles = generator.generate(index)
        rng = np.random.default_rng([seed, index, _DETECTOR_STREAM])
        events.append(simulate_event(particles, geometry, config, rng))
    seconds = time.perf_counter() - start
    logger.info("Simulated %d events with seed %d in %.1f s", num_events,
                seed, seconds)
    return events
