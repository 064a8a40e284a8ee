"""Generator-level charged particles of one event and their PID classes."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

#: Particle-ID class of a hit: 0 other, 1 pion, 2 kaon, 3 proton, 4 electron.
PID_CLASSES: dict[int, int] = {211: 1, 321: 2, 2212: 3, 11: 4}

#: Columns of the per-event particle table ``data.particles``; row ``i``
#: describes the particle whose hits carry ``particle_id == i + 1``.
PARTICLE_COLUMNS: tuple[str, ...] = (
    'pdg', 'charge', 'mass', 'px', 'py', 'pz', 'vx', 'vy', 'vz')


def pid_labels(pdg: np.ndarray) -> np.ndarray:
    r"""Map PDG codes to PID classes (0 other, 1 pion, 2 kaon, 3 proton,
    4 electron), ignoring the sign of the code.

    Args:
        pdg (np.ndarray): PDG particle codes of any integer shape.

    Returns:
        np.ndarray: ``int64`` classes with the shape of :obj:`pdg`.
    """
    abs_pdg = np.abs(np.asarray(pdg, dtype=np.int64))
    labels = np.zeros(abs_pdg.shape, dtype=np.int64)
    for code, label in PID_CLASSES.items():
        labels[abs_pdg == code] = label
    return labels


def pseudorapidity(px: np.ndarray, py: np.ndarray,
                   pz: np.ndarray) -> np.ndarray:
    r"""Return :math:`\eta = \operatorname{asinh}(p_z / p_T)`; a particle
    with :math:`p_T = 0` gets :math:`\pm\infty` (or 0 when also
    :math:`p_z = 0`)."""
    pt = np.hypot(px, py)
    with np.errstate(divide='ignore', invalid='ignore'):
        eta = np.arcsinh(pz / pt)
    return np.nan_to_num(eta, nan=0.0, posinf=np.inf, neginf=-np.inf)


@dataclass(frozen=True)
class ParticleTable:
    r"""Charged final-state particles of one event, one array entry each.

    Momenta are in GeV, masses in GeV, production vertices in cm and charges in
    units of the elementary charge.

    Args:
        pdg (np.ndarray): PDG codes, ``int64``.
        charge (np.ndarray): Electric charges.
        mass (np.ndarray): Masses.
        px (np.ndarray): Momentum :math:`x` components.
        py (np.ndarray): Momentum :math:`y` components.
        pz (np.ndarray): Momentum :math:`z` components.
        vx (np.ndarray): Production vertex :math:`x`.
        vy (np.ndarray): Production vertex :math:`y`.
        vz (np.ndarray): Production vertex :math:`z`.

    Shapes:
        Every field is :obj:`[num_particles]`.
    """

    pdg: np.ndarray
    charge: np.ndarray
    mass: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    vz: np.ndarray

    def __post_init__(self) -> None:
        sizes = {}
        for field in fields(self):
            dtype = np.int64 if field.name == 'pdg' else np.float64
            array = np.asarray(getattr(self, field.name), dtype=dtype)
            if array.ndim != 1:
                raise ValueError(
                    f"Expected '{field.name}' to be one-dimensional, got "
                    f"shape {array.shape}")
            object.__setattr__(self, field.name, array)
            sizes[field.name] = array.shape[0]
        if len(set(sizes.values())) > 1:
            raise ValueError(
                f"Expected all particle fields to have the same length, got "
                f"{sizes}")

    def __len__(self) -> int:
        return self.pdg.shape[0]

    @property
    def pt(self) -> np.ndarray:
        r"""Transverse momentum in GeV."""
        return np.hypot(self.px, self.py)

    @property
    def p(self) -> np.ndarray:
        r"""Momentum magnitude in GeV."""
        return np.sqrt(self.px**2 + self.py**2 + self.pz**2)

    @property
    def eta(self) -> np.ndarray:
        r"""Pseudorapidity."""
        return pseudorapidity(self.px, self.py, self.pz)

    def select(self, mask: np.ndarray) -> ParticleTable:
        r"""Return the particles where the boolean :obj:`mask` is true."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self), ):
            raise ValueError(f"Expected a boolean mask of shape "
                             f"({len(self)},), got {mask.shape}")
        return ParticleTable(**{
            field.name: getattr(self, field.name)[mask]
            for field in fields(self)
        })

    def to_array(self) -> np.ndarray:
        r"""Stack the fields into a ``float64`` array of shape
        :obj:`[num_particles, 9]` in the order of :data:`PARTICLE_COLUMNS`.
        PDG codes stay exact up to :math:`2^{53}`."""
        columns = [getattr(self, name) for name in PARTICLE_COLUMNS]
        return np.stack(columns, axis=1).astype(np.float64)

    @classmethod
    def empty(cls) -> ParticleTable:
        r"""Return a table without particles."""
        return cls(**{field.name: np.zeros(0) for field in fields(cls)})
