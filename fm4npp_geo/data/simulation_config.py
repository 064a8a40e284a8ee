"""Settings of the event simulation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from fm4npp_geo.data.energy_loss import ARGON_GAS, GasMedium
from fm4npp_geo.data.gun import ParticleGun
from fm4npp_geo.data.pythia import COLLISION_SYSTEMS

#: Event sources of a simulation.
SOURCES = ('pythia', 'gun')


@dataclass(frozen=True)
class SimulationConfig:
    r"""Settings of the event source, the transport and the TPC response.

    The defaults are calibrated so that events match the published
    statistics of the TPCpp-10M dataset of the FM4NPP paper (about 850
    spacepoints and 15.6 tracks with at least 3 hits per event, see
    ``docs/simulation.md``).

    Args:
        source (str, optional): :obj:`"pythia"` for PYTHIA 8 collisions or
            :obj:`"gun"` for the particle gun :obj:`gun`.
            (default: :obj:`"pythia"`)
        collision_system (str, optional): :obj:`"pp"` or :obj:`"AuAu"`
            (PYTHIA's Angantyr model), see
            :data:`~fm4npp_geo.data.pythia.COLLISION_SYSTEMS`.
            (default: :obj:`"pp"`)
        energy (float, optional): Centre-of-mass energy per nucleon pair in
            GeV, that of RHIC. (default: :obj:`200.0`)
        processes (tuple[str, ...], optional): PYTHIA settings that switch on
            the processes. Non-diffractive events are the bulk of minimum
            bias and give tracks in the central TPC acceptance.
            (default: :obj:`("SoftQCD:nonDiffractive = on",)`)
        pythia_settings (tuple[str, ...], optional): More PYTHIA settings,
            read last. (default: :obj:`()`)
        pileup_mean (float, optional): Mean number of pile-up collisions per
            event (Poisson), on top of the triggered one. Calibrated to 15.6
            tracks per event. (default: :obj:`0.18`)
        vertex_sigma_z (float, optional): Gaussian width in cm of each
            collision's vertex :math:`z`. An assumed collision region, narrow
            enough that most events keep their tracks inside
            :math:`|z| \le 105` cm. (default: :obj:`10.0`)
        gun (ParticleGun, optional): The particle gun of
            ``source="gun"``; its seed is replaced by the run seed. A mapping
            of its arguments is accepted. (default: :obj:`ParticleGun()`)
        energy_loss (bool, optional): Slow particles down by their mean
            energy loss in the gas. (default: :obj:`True`)
        multiple_scattering (bool, optional): Deflect particles by multiple
            scattering in the gas. (default: :obj:`True`)
        max_turns (float, optional): Largest transverse turning angle of a
            particle in full circles; 1 keeps both legs of a looper and 2 its
            second loop. (default: :obj:`2.0`)
        sigma_rphi (float, optional): Gaussian smearing in cm of a hit along
            the row, :math:`r\phi`, at zero drift. An assumed single-hit
            resolution of the order of a GEM-readout TPC, not a measured
            sPHENIX value. (default: :obj:`0.015`)
        sigma_z (float, optional): Gaussian smearing in cm of a hit along
            :math:`z` at zero drift; assumed, as :obj:`sigma_rphi`.
            (default: :obj:`0.05`)
        diffusion_rphi (float, optional): Effective transverse diffusion
            coefficient in cm / :math:`\sqrt{\text{cm}}`, see
            :func:`~fm4npp_geo.data.response.drift_smearing`. Assumed: a
            diffusion constant of about 50 um / sqrt(cm) over about 20
            effective electrons. (default: :obj:`0.0012`)
        diffusion_z (float, optional): Effective longitudinal diffusion
            coefficient in cm / :math:`\sqrt{\text{cm}}`; assumed, as
            :obj:`diffusion_rphi`. (default: :obj:`0.003`)
        noise_rate (float, optional): Mean number of random noise hits per
            event (Poisson), spread uniformly over rows, :math:`\phi` and
            :math:`z`. They stand in for electronic noise and for the
            secondaries of a full detector simulation, and are calibrated to
            850 spacepoints per event. (default: :obj:`240.0`)
        merge_hits (bool, optional): Merge hits of a row closer than
            :obj:`pad_width` and :obj:`time_bin`. (default: :obj:`False`)
        pad_width (float, optional): Pad width along :math:`r\phi` in cm for
            merging. (default: :obj:`0.2`)
        time_bin (float, optional): Drift distance of one time bin in cm for
            merging. (default: :obj:`0.5`)
        min_pt (float, optional): Particles below this transverse momentum in
            GeV are dropped before transport. The default keeps every
            particle, because the transport decides which rows it reaches.
            (default: :obj:`0.0`)
        eta_margin (float, optional): Particles with
            :math:`|\eta| > \eta_{acc} + \text{margin}` are dropped before
            transport, where :math:`\eta_{acc}` (1.93 by default) is the
            largest :math:`|\eta|` that reaches the first row from the origin.
            With a margin of 1 a particle from the beam line with
            :math:`|z_0| \le 105` cm is dropped only when it cannot reach the
            first row inside the TPC. (default: :obj:`1.0`)
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
        medium (GasMedium, optional): Gas of the TPC, for energy loss and
            multiple scattering. A mapping of its fields is accepted.
            sPHENIX runs an argon-based mixture. (default: :data:`ARGON_GAS`)
    """

    source: str = 'pythia'
    collision_system: str = 'pp'
    energy: float = 200.0
    processes: tuple[str, ...] = ('SoftQCD:nonDiffractive = on', )
    pythia_settings: tuple[str, ...] = ()
    pileup_mean: float = 0.18
    vertex_sigma_z: float = 10.0
    gun: ParticleGun = field(default_factory=ParticleGun)
    energy_loss: bool = True
    multiple_scattering: bool = True
    max_turns: float = 2.0
    sigma_rphi: float = 0.015
    sigma_z: float = 0.05
    diffusion_rphi: float = 0.0012
    diffusion_z: float = 0.003
    noise_rate: float = 240.0
    merge_hits: bool = False
    pad_width: float = 0.2
    time_bin: float = 0.5
    min_pt: float = 0.0
    eta_margin: float = 1.0
    noise_pt_threshold: float = 0.06
    energy_scale: float = 100.0
    dedx_relative_width: float = 0.25
    medium: GasMedium = ARGON_GAS

    def __post_init__(self) -> None:
        object.__setattr__(self, 'processes', tuple(self.processes))
        object.__setattr__(self, 'pythia_settings',
                           tuple(self.pythia_settings))
        if isinstance(self.gun, dict):
            object.__setattr__(self, 'gun', ParticleGun(**self.gun))
        if isinstance(self.medium, dict):
            object.__setattr__(self, 'medium', GasMedium(**self.medium))
        if self.source not in SOURCES:
            raise ValueError(f"Expected 'source' to be one of {SOURCES}, got "
                             f"'{self.source}'")
        if self.collision_system not in COLLISION_SYSTEMS:
            raise ValueError(
                f"Expected 'collision_system' to be one of "
                f"{sorted(COLLISION_SYSTEMS)}, got '{self.collision_system}'")
        non_negative = ('pileup_mean', 'vertex_sigma_z', 'sigma_rphi',
                        'sigma_z', 'diffusion_rphi', 'diffusion_z',
                        'noise_rate', 'min_pt', 'eta_margin',
                        'noise_pt_threshold', 'dedx_relative_width')
        for name in non_negative:
            value = getattr(self, name)
            if not value >= 0.0:
                raise ValueError(f"Expected a non-negative '{name}', got "
                                 f"{value}")
        for name in ('energy', 'energy_scale', 'max_turns', 'pad_width',
                     'time_bin'):
            value = getattr(self, name)
            if not value > 0.0:
                raise ValueError(f"Expected a positive '{name}', got {value}")

    @classmethod
    def from_dict(cls, overrides: dict[str, Any] | None) -> SimulationConfig:
        r"""Build a config from a mapping of field overrides, as read from a
        YAML file, and name any unknown key."""
        overrides = dict(overrides or {})
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"Unknown simulation settings {unknown}; "
                             f"expected keys among {sorted(known)}")
        return cls(**overrides)
