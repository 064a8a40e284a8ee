"""Pad-row geometry of an sPHENIX-like time projection chamber (TPC)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class TPCGeometry:
    r"""Cylindrical pad-row layout of a TPC in a solenoid field along z.

    Pad rows are grouped radially. Inside a group the rows are equally spaced
    and every row is a cylinder at its centre radius. The first row's centre
    sits at :obj:`min_radius`, the last row's centre at :obj:`max_radius`, and
    each interior group boundary is the shared edge of two neighbouring rows.
    For a group of :math:`n` rows between edges :math:`a` and :math:`b` the row
    pitch is

    .. math::
        \Delta r = \frac{b - a}{n - 1 + \tfrac{1}{2}[a \text{ is a row edge}]
        + \tfrac{1}{2}[b \text{ is a row edge}]}.

    The defaults describe the sPHENIX TPC: 48 pad rows in three groups of 16
    split at :math:`r = 40` and :math:`57` cm, and spacepoints from 31.4 to
    75.4 cm. The drift length is 105 cm on either side of :math:`z = 0`, in a
    1.4 T solenoid. They give row pitches of about 0.555, 1.063 and 1.187 cm.

    Args:
        min_radius (float, optional): Centre radius of the innermost row in cm.
            (default: :obj:`31.4`)
        max_radius (float, optional): Centre radius of the outermost row in cm.
            (default: :obj:`75.4`)
        group_boundaries (tuple[float, ...], optional): Radii in cm that split
            the row groups, strictly increasing and inside
            (:obj:`min_radius`, :obj:`max_radius`).
            (default: :obj:`(40.0, 57.0)`)
        rows_per_group (tuple[int, ...], optional): Number of rows in each
            group, one more entry than :obj:`group_boundaries`.
            (default: :obj:`(16, 16, 16)`)
        z_max (float, optional): Half length of the sensitive volume in cm, so
            hits satisfy :math:`|z| \le z_{max}`. (default: :obj:`105.0`)
        magnetic_field (float, optional): Solenoid field along :math:`+z` in
            tesla. (default: :obj:`1.4`)
    """

    min_radius: float = 31.4
    max_radius: float = 75.4
    group_boundaries: tuple[float, ...] = (40.0, 57.0)
    rows_per_group: tuple[int, ...] = (16, 16, 16)
    z_max: float = 105.0
    magnetic_field: float = 1.4

    def __post_init__(self) -> None:
        # Tuples keep the dataclass hashable when a caller passes lists.
        object.__setattr__(self, 'group_boundaries',
                           tuple(float(b) for b in self.group_boundaries))
        object.__setattr__(self, 'rows_per_group',
                           tuple(int(n) for n in self.rows_per_group))

        if not 0.0 < self.min_radius < self.max_radius:
            raise ValueError(
                f"Expected 0 < min_radius < max_radius, got min_radius="
                f"{self.min_radius} and max_radius={self.max_radius}")
        if len(self.rows_per_group) != len(self.group_boundaries) + 1:
            raise ValueError(
                f"Expected one more entry in rows_per_group than in "
                f"group_boundaries, got rows_per_group={self.rows_per_group} "
                f"and group_boundaries={self.group_boundaries}")
        edges = (self.min_radius, *self.group_boundaries, self.max_radius)
        if any(lo >= hi for lo, hi in zip(edges[:-1], edges[1:])):
            raise ValueError(
                f"Expected group_boundaries strictly increasing and inside "
                f"({self.min_radius}, {self.max_radius}), got "
                f"{self.group_boundaries}")
        if any(n < 1 for n in self.rows_per_group):
            raise ValueError(f"Expected at least one row per group, got "
                             f"rows_per_group={self.rows_per_group}")
        if len(self.rows_per_group) == 1 and self.rows_per_group[0] < 2:
            raise ValueError(
                f"Expected at least two rows when there is a single group "
                f"(its first and last row sit at min_radius and max_radius), "
                f"got rows_per_group={self.rows_per_group}")
        if not self.z_max > 0.0:
            raise ValueError(f"Expected z_max > 0 cm, got {self.z_max}")
        if not (math.isfinite(self.magnetic_field)
                and self.magnetic_field > 0.0):
            raise ValueError(f"Expected a positive magnetic_field in tesla, "
                             f"got {self.magnetic_field}")

    @property
    def num_layers(self) -> int:
        r"""Number of pad rows."""
        return sum(self.rows_per_group)

    @property
    def num_groups(self) -> int:
        r"""Number of row groups."""
        return len(self.rows_per_group)

    @cached_property
    def _rows(self) -> tuple[np.ndarray, np.ndarray]:
        edges = (self.min_radius, *self.group_boundaries, self.max_radius)
        last = self.num_groups - 1
        radii, pitches = [], []
        for g, n in enumerate(self.rows_per_group):
            lo, hi = edges[g], edges[g + 1]
            # The outermost edges are row centres, interior ones row edges.
            lo_is_edge, hi_is_edge = g > 0, g < last
            pitch = (hi - lo) / (n - 1 + 0.5 * lo_is_edge + 0.5 * hi_is_edge)
            first = lo + 0.5 * pitch if lo_is_edge else lo
            radii.append(first + pitch * np.arange(n))
            pitches.append(np.full(n, pitch))
        return np.concatenate(radii), np.concatenate(pitches)

    @cached_property
    def layer_radii(self) -> np.ndarray:
        r"""Centre radius of every pad row in cm, shape
        :obj:`[num_layers]`, strictly increasing and read-only."""
        return _read_only(self._rows[0].copy())

    @cached_property
    def row_thickness(self) -> np.ndarray:
        r"""Radial thickness (pitch) of every pad row in cm, shape
        :obj:`[num_layers]`, read-only."""
        return _read_only(self._rows[1].copy())

    @cached_property
    def group_edges(self) -> np.ndarray:
        r"""Radial edges of the row groups in cm, shape
        :obj:`[num_groups + 1]`: the inner edge of the first row, the group
        boundaries and the outer edge of the last row. Read-only."""
        radii, thickness = self._rows
        edges = [radii[0] - 0.5 * thickness[0], *self.group_boundaries,
                 radii[-1] + 0.5 * thickness[-1]]
        return _read_only(np.asarray(edges, dtype=np.float64))

    @cached_property
    def layer_group(self) -> np.ndarray:
        r"""Group index of every pad row, shape :obj:`[num_layers]`,
        read-only."""
        groups = np.repeat(np.arange(self.num_groups), self.rows_per_group)
        return _read_only(groups)

    @property
    def max_abs_eta(self) -> float:
        r"""Largest :math:`|\eta|` at which a straight track from the origin
        still crosses the innermost row inside :math:`|z| \le z_{max}`."""
        return math.asinh(self.z_max / self.min_radius)
