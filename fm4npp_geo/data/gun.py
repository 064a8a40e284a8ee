r"""A particle gun: single particles of chosen species and kinematics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fm4npp_geo.data.particles import ParticleTable

#: Mass in GeV and charge of the particle (positive PDG code) of each species
#: the gun can fire, from the Review of Particle Physics. A negative code is
#: the antiparticle with the opposite charge.
GUN_SPECIES: dict[int, tuple[float, float]] = {
    11: (0.51099895e-3, -1.0),
    13: (0.1056583755, -1.0),
    211: (0.13957039, 1.0),
    321: (0.493677, 1.0),
    2212: (0.93827208816, 1.0),
}


@dataclass(frozen=True)
class ParticleGun:
    r"""Fire :obj:`num_particles` particles per event with species drawn
    uniformly from :obj:`species`, :math:`p_T`, :math:`\eta` and
    :math:`\phi` uniform in their ranges, from a vertex at :math:`(0, 0, z_0)`
    with :math:`z_0` Gaussian of width :obj:`vertex_sigma_z`.

    Event :obj:`index` of run :obj:`seed` depends only on (:obj:`seed`,
    :obj:`index`), as for :class:`~fm4npp_geo.data.pythia.PythiaEventGenerator`.

    Args:
        seed (int, optional): Non-negative run seed. (default: :obj:`0`)
        species (Sequence[int], optional): PDG codes; the keys of
            :data:`GUN_SPECIES` and their negatives. (default: :obj:`(211,
            -211)`)
        num_particles (int, optional): Particles per event.
            (default: :obj:`10`)
        pt_range (Sequence[float], optional): Transverse momentum range in
            GeV. (default: :obj:`(0.2, 2.0)`)
        eta_range (Sequence[float], optional): Pseudorapidity range.
            (default: :obj:`(-1.0, 1.0)`)
        phi_range (Sequence[float], optional): Azimuth range in radians.
            (default: :obj:`(-pi, pi)`)
        vertex_sigma_z (float, optional): Width of the vertex :math:`z` in
            cm. (default: :obj:`0.0`)
    """

    seed: int = 0
    species: Sequence[int] = (211, -211)
    num_particles: int = 10
    pt_range: Sequence[float] = (0.2, 2.0)
    eta_range: Sequence[float] = (-1.0, 1.0)
    phi_range: Sequence[float] = (-math.pi, math.pi)
    vertex_sigma_z: float = 0.0

    def __post_init__(self) -> None:
        for name in ('species', 'pt_range', 'eta_range', 'phi_range'):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.seed < 0:
            raise ValueError(f"Expected a non-negative seed, got {self.seed}")
        unknown = [code for code in self.species
                   if abs(code) not in GUN_SPECIES]
        if not self.species or unknown:
            raise ValueError(
                f"Expected species among the PDG codes "
                f"{sorted(GUN_SPECIES)} or their negatives, got "
                f"{list(self.species)}")
        if self.num_particles < 0:
            raise ValueError(f"Expected a non-negative num_particles, got "
                             f"{self.num_particles}")
        for name in ('pt_range', 'eta_range', 'phi_range'):
            low_high = getattr(self, name)
            if len(low_high) != 2 or not low_high[0] <= low_high[1]:
                raise ValueError(f"Expected '{name}' to be (low, high) with "
                                 f"low <= high, got {low_high}")
        if not self.pt_range[0] > 0.0:
            raise ValueError(f"Expected a positive lower end of 'pt_range' "
                             f"in GeV, got {self.pt_range}")
        if not self.vertex_sigma_z >= 0.0:
            raise ValueError(f"Expected a non-negative vertex_sigma_z in cm, "
                             f"got {self.vertex_sigma_z}")

    def generate(self, index: int) -> ParticleTable:
        r"""Fire event :obj:`index` of this run."""
        if index < 0:
            raise ValueError(f"Expected a non-negative event index, got "
                             f"{index}")
        rng = np.random.default_rng([self.seed, index])
        n = self.num_particles
        codes = np.asarray(self.species, dtype=np.int64)[rng.integers(
            0, len(self.species), n)]
        mass = np.array([GUN_SPECIES[abs(int(c))][0] for c in codes])
        charge = np.array([GUN_SPECIES[abs(int(c))][1] * np.sign(c)
                           for c in codes])
        pt = rng.uniform(*self.pt_range, n)
        eta = rng.uniform(*self.eta_range, n)
        phi = rng.uniform(*self.phi_range, n)
        vz = rng.normal(0.0, self.vertex_sigma_z) if n else 0.0
        return ParticleTable(
            pdg=codes,
            charge=charge.reshape(n),
            mass=mass.reshape(n),
            px=pt * np.cos(phi),
            py=pt * np.sin(phi),
            pz=pt * np.sinh(eta),
            vx=np.zeros(n),
            vy=np.zeros(n),
            vz=np.full(n, vz),
        )
