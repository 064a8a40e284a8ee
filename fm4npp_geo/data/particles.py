"""Generator-level charged particles of one event and their PID classes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

import numpy as np

#: Particle-ID class of a hit: 0 other, 1 pion, 2 kaon, 3 proton, 4 electron.
PID_CLASSES: dict[int, int] = {211: 1, 321: 2, 2212: 3, 11: 4}

#: Columns of the per-event particle table ``data.particles``; row ``i``
#: describes the particle whose hits carry ``particle_id == i + 1``, which
#: is also its ``particle_id`` column. ``is_primary`` is 1 or 0,
#: ``collision`` counts the collisions of a pile-up event from 0 (the
#: triggered one), and ``num_hits`` counts the particle's hits in the event.
PARTICLE_COLUMNS: tuple[str, ...] = (
    'particle_id', 'pdg', 'charge', 'mass', 'px', 'py', 'pz', 'vx', 'vy',
    'vz', 'is_primary', 'collision', 'num_hits')


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


_FIELD_DTYPES = {'pdg': np.int64, 'is_primary': bool, 'collision': np.int64}


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
        is_primary (np.ndarray, optional): Whether the particle comes from
            the collision rather than from the weak decay of a
            long-lived hadron (:math:`c\tau > 1` cm, such as
            :math:`K^0_S` or :math:`\Lambda`); all true when :obj:`None`.
            (default: :obj:`None`)
        collision (np.ndarray, optional): Index of the collision in a pile-up
            event, ``int64``; all 0 when :obj:`None`. (default: :obj:`None`)

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
    is_primary: np.ndarray | None = None
    collision: np.ndarray | None = None

    def __post_init__(self) -> None:
        size = np.asarray(self.pdg).reshape(-1).shape[0]
        if self.is_primary is None:
            object.__setattr__(self, 'is_primary', np.ones(size, dtype=bool))
        if self.collision is None:
            object.__setattr__(self, 'collision', np.zeros(size, np.int64))
        sizes = {}
        for field in fields(self):
            dtype = _FIELD_DTYPES.get(field.name, np.float64)
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

    def to_array(self, num_hits: np.ndarray | None = None) -> np.ndarray:
        r"""Stack the fields into a ``float64`` array of shape
        :obj:`[num_particles, 13]` in the order of :data:`PARTICLE_COLUMNS`.
        PDG codes stay exact up to :math:`2^{53}`.

        Args:
            num_hits (np.ndarray, optional): Hits per particle; zeros when
                :obj:`None`. (default: :obj:`None`)
        """
        columns = {field.name: getattr(self, field.name)
                   for field in fields(self)}
        columns['particle_id'] = np.arange(1, len(self) + 1)
        columns['num_hits'] = (np.zeros(len(self)) if num_hits is None else
                               np.asarray(num_hits))
        stacked = [np.asarray(columns[name], dtype=np.float64)
                   for name in PARTICLE_COLUMNS]
        return np.stack(stacked, axis=1).reshape(len(self),
                                                 len(PARTICLE_COLUMNS))

    @staticmethod
    def concatenate(tables: list[ParticleTable]) -> ParticleTable:
        r"""Join the particles of several tables, in order."""
        if not tables:
            return ParticleTable.empty()
        return ParticleTable(**{
            field.name: np.concatenate([getattr(t, field.name)
                                        for t in tables])
            for field in fields(ParticleTable)
        })

    @classmethod
    def empty(cls) -> ParticleTable:
        r"""Return a table without particles."""
        return cls(**{field.name: np.zeros(0) for field in fields(cls)})

    def with_collision(self, collision: int) -> ParticleTable:
        r"""Return a copy whose particles all belong to collision
        :obj:`collision` of a pile-up event."""
        return dataclasses.replace(
            self, collision=np.full(len(self), collision, dtype=np.int64))

    def shifted(self, dz: float) -> ParticleTable:
        r"""Return a copy with every production vertex moved by :obj:`dz` cm
        along :math:`z`."""
        return dataclasses.replace(self, vz=self.vz + dz)
