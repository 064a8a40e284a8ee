"""Full-event truth of the particles, and the rule that makes one reconstructable."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from torch_geometric.data import Data

from fm4npp_geo.data.particles import PARTICLE_COLUMNS
from fm4npp_geo.metrics._inputs import (
    ArrayLike,
    as_label_array,
    as_numpy,
    as_value_array,
    check_truth_labels,
)

#: Column index of each name of ``PARTICLE_COLUMNS`` in a particle table.
TABLE_COLUMN = {name: index for index, name in enumerate(PARTICLE_COLUMNS)}


def count_distinct_layers(particle_id: np.ndarray, layer: np.ndarray, particles: np.ndarray) -> np.ndarray:
    """Count the distinct layers hit by each of ``particles`` (sorted ids) among the given hits."""
    index = np.searchsorted(particles, particle_id)
    known = index < particles.size
    known[known] = particles[index[known]] == particle_id[known]
    width = int(layer.max(initial=0)) + 1
    pairs = np.unique(index[known] * width + layer[known])
    return np.bincount(pairs // width, minlength=particles.size).astype(np.int64)


@dataclass(frozen=True)
class ParticleTruth:
    """The truth particles of one event, one entry per particle, sorted by id.

    Noise (id 0) is never a particle here. ``num_hits`` counts the particle's hits
    in the full event, which may exceed its hits among the hits passed to a
    metric when those are a subset.

    Attributes:
        particle_id: particle ids, increasing, ``[P]`` int64.
        num_hits: hits of each particle in the full event, ``[P]`` int64.
        pt: transverse momentum in GeV, ``[P]``, or None when unknown.
        eta: pseudorapidity, ``[P]``, or None when unknown.
        is_primary: whether the particle comes from the collision, ``[P]`` bool,
            or None when unknown.
        num_layers: distinct detector layers among the particle's given hits,
            ``[P]`` int64, or None when the hits carry no layer.
    """

    particle_id: np.ndarray
    num_hits: np.ndarray
    pt: np.ndarray | None = None
    eta: np.ndarray | None = None
    is_primary: np.ndarray | None = None
    num_layers: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.particle_id.shape[0])

    @classmethod
    def from_hits(
        cls,
        particle_id: ArrayLike,
        particle_pt: ArrayLike | None = None,
        particle_eta: ArrayLike | None = None,
        layer: ArrayLike | None = None,
        is_primary: ArrayLike | None = None,
    ) -> ParticleTruth:
        """Build the truth by counting the hits of each particle.

        Use this when the hits are the whole event. Per-hit kinematics and flags
        are read from one hit of each particle, since all its hits carry the same
        values.
        """
        particle_id = as_label_array(particle_id, "particle_id")
        check_truth_labels(particle_id)
        largest = int(particle_id.max(initial=0))
        if largest <= 4 * particle_id.size + 1024:
            # Small ids (simulated events): count with bincount, no sort. Any hit
            # of a particle gives its kinematics, so the last write per id is fine.
            counts = np.bincount(particle_id, minlength=largest + 1)
            ids = np.flatnonzero(counts)
            hit_of = np.zeros(largest + 1, dtype=np.int64)
            hit_of[particle_id] = np.arange(particle_id.size)
            first_hit, num_hits = hit_of[ids], counts[ids]
        else:
            ids, first_hit, num_hits = np.unique(particle_id, return_index=True, return_counts=True)
        real = ids != 0
        ids, first_hit, num_hits = ids[real], first_hit[real], num_hits[real]

        def per_particle(values: ArrayLike | None, name: str) -> np.ndarray | None:
            if values is None:
                return None
            return as_value_array(values, name, particle_id.size)[first_hit]

        primary = per_particle(is_primary, "is_primary")
        layers = None
        if layer is not None:
            layers = count_distinct_layers(particle_id, as_label_array(layer, "layer"), ids)
        return cls(
            particle_id=ids,
            num_hits=num_hits.astype(np.int64),
            pt=per_particle(particle_pt, "particle_pt"),
            eta=per_particle(particle_eta, "particle_eta"),
            is_primary=None if primary is None else primary.astype(bool),
            num_layers=layers,
        )

    @classmethod
    def from_table(
        cls,
        table: ArrayLike,
        particle_id: ArrayLike | None = None,
        layer: ArrayLike | None = None,
    ) -> ParticleTruth:
        """Build the truth from a particle table with the columns of ``PARTICLE_COLUMNS``.

        The table's ``num_hits`` column gives the full-event hit totals; pT and eta
        come from its momentum (GeV), and ``is_primary`` from its flag column.

        Args:
            table (array [P, 13]): the event's particle table, ``data.particles``.
            particle_id (array [num_hits], optional): truth particle of each given
                hit; checked against the table, and used with ``layer``.
            layer (array [num_hits], optional): layer of each given hit, to count
                distinct layers per particle.

        Raises:
            ValueError: the table has the wrong shape or repeated ids, a hit names
                a particle not in the table, or a particle has more given hits
                than its full-event total.
        """
        table = as_numpy(table).astype(np.float64, copy=False)
        if table.ndim != 2 or table.shape[1] != len(PARTICLE_COLUMNS):
            raise ValueError(
                f"particle table must have shape [P, {len(PARTICLE_COLUMNS)}] with the columns "
                f"{list(PARTICLE_COLUMNS)}, got {list(table.shape)}"
            )
        ids = table[:, TABLE_COLUMN["particle_id"]].astype(np.int64)
        order = np.argsort(ids, kind="stable")
        table, ids = table[order], ids[order]
        if ids.size > 1 and (np.diff(ids) == 0).any():
            raise ValueError("particle table repeats a particle id")
        px, py, pz = (table[:, TABLE_COLUMN[name]] for name in ("px", "py", "pz"))
        pt = np.hypot(px, py)
        with np.errstate(divide="ignore", invalid="ignore"):
            eta = np.nan_to_num(np.arcsinh(pz / pt), nan=0.0, posinf=np.inf, neginf=-np.inf)
        truth = cls(
            particle_id=ids,
            num_hits=table[:, TABLE_COLUMN["num_hits"]].astype(np.int64),
            pt=pt,
            eta=eta,
            is_primary=table[:, TABLE_COLUMN["is_primary"]] != 0,
        )
        if particle_id is None:
            return truth

        particle_id = as_label_array(particle_id, "particle_id")
        check_truth_labels(particle_id)
        truth.check_hits(particle_id)
        if layer is None:
            return truth
        layers = count_distinct_layers(particle_id, as_label_array(layer, "layer"), ids)
        return cls(truth.particle_id, truth.num_hits, truth.pt, truth.eta, truth.is_primary, layers)

    @classmethod
    def from_event(cls, event: Data) -> ParticleTruth:
        """Build the truth of an event: from ``event.particles`` when present, else from its hits."""
        layer = event.layer if "layer" in event else None
        if "particles" in event and event.particles is not None:
            return cls.from_table(event.particles, event.particle_id, layer)
        return cls.from_hits(
            event.particle_id,
            event.particle_pt if "particle_pt" in event else None,
            event.particle_eta if "particle_eta" in event else None,
            layer,
            event.is_primary if "is_primary" in event else None,
        )

    def check_hits(self, particle_id: np.ndarray) -> None:
        """Raise ValueError unless every hit's particle is known, with no more hits than its total."""
        ids, counts = np.unique(particle_id[particle_id != 0], return_counts=True)
        index = np.searchsorted(self.particle_id, ids)
        unknown = index >= len(self)
        unknown[~unknown] = self.particle_id[index[~unknown]] != ids[~unknown]
        if unknown.any():
            raise ValueError(
                f"hits of particle {int(ids[unknown][0])} found, but the particle table has no such particle"
            )
        over = counts > self.num_hits[index]
        if over.any():
            bad = np.flatnonzero(over)[0]
            raise ValueError(
                f"particle {int(ids[bad])} has {int(counts[bad])} hits given but a full-event total of "
                f"{int(self.num_hits[index[bad]])}; the particle table does not belong to these hits"
            )


@dataclass(frozen=True)
class ReconstructableRule:
    """The rule that makes a truth particle count in an efficiency denominator.

    A particle is reconstructable when it passes every check:

    - at least ``min_hits`` hits in the full event,
    - at least ``min_layers`` distinct layers among its hits (when ``min_layers > 0``),
    - ``pt >= min_pt`` GeV (when ``min_pt > 0``),
    - ``|eta| <= max_abs_eta`` (when finite),
    - a primary particle (when ``primary_only``).

    Noise is never a particle.

    Args:
        min_hits (int): minimum full-event hits. (default: 3, the FM4NPP truth-track rule)
        min_layers (int): minimum distinct layers. (default: 0, not checked)
        min_pt (float): minimum transverse momentum in GeV. (default: 0.0)
        max_abs_eta (float): maximum absolute pseudorapidity. (default: inf)
        primary_only (bool): keep only primary particles. (default: False)
    """

    min_hits: int = 3
    min_layers: int = 0
    min_pt: float = 0.0
    max_abs_eta: float = math.inf
    primary_only: bool = False

    def __post_init__(self) -> None:
        for name in ("min_hits", "min_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
        if not self.min_pt >= 0:
            raise ValueError(f"min_pt must be >= 0 GeV, got {self.min_pt!r}")
        if not self.max_abs_eta > 0:
            raise ValueError(f"max_abs_eta must be > 0, got {self.max_abs_eta!r}")

    def select(self, truth: ParticleTruth) -> np.ndarray:
        """Return which particles of ``truth`` are reconstructable, ``[P]`` bool.

        Raises:
            ValueError: the rule needs a quantity (layers, pT, eta, primary flag)
                that ``truth`` does not carry.
        """
        keep = truth.num_hits >= self.min_hits
        checks = (
            (self.min_layers > 0, "num_layers", "distinct layers (pass the hits' layer)"),
            (self.min_pt > 0, "pt", "pT (pass particle_pt or a particle table)"),
            (math.isfinite(self.max_abs_eta), "eta", "eta (pass particle_eta or a particle table)"),
            (self.primary_only, "is_primary", "the primary flag (pass is_primary or a particle table)"),
        )
        for needed, field, description in checks:
            if needed and getattr(truth, field) is None:
                raise ValueError(f"the reconstructable rule {self} needs {description}, which the truth lacks")
        if self.min_layers > 0:
            keep &= truth.num_layers >= self.min_layers
        if self.min_pt > 0:
            keep &= truth.pt >= self.min_pt
        if math.isfinite(self.max_abs_eta):
            keep &= np.abs(truth.eta) <= self.max_abs_eta
        if self.primary_only:
            keep &= truth.is_primary
        return keep


def as_particle_truth(
    particle_id: np.ndarray,
    particles: ParticleTruth | ArrayLike | None,
    layer: ArrayLike | None = None,
) -> ParticleTruth:
    """Return the full-event truth for the given hits.

    Args:
        particle_id (array [num_hits]): truth particle of each given hit.
        particles: a :class:`ParticleTruth`, a particle table ``[P, 13]`` with the
            columns of ``PARTICLE_COLUMNS``, or None to count the given hits as
            the whole event.
        layer (array [num_hits], optional): layer of each hit, for distinct-layer counts.
    """
    if particles is None:
        return ParticleTruth.from_hits(particle_id, layer=layer)
    if isinstance(particles, ParticleTruth):
        particles.check_hits(particle_id)
        return particles
    return ParticleTruth.from_table(particles, particle_id, layer)
