"""Hierarchical raster scan: the FM4NPP serialization of detector hits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from fm4npp_geo.fileio import read_json_object, write_json
from fm4npp_geo.transforms.coordinates import cylindrical, transverse_radius
from fm4npp_geo.transforms.ordering import batch_vector, hit_positions, local_order

AXES = ("r", "phi", "eta")

# Bins are counted by one comparison per edge for at most this many edges and
# at least this many values, and by a binary search otherwise.
_FEW_EDGES = 16
_MANY_VALUES = 65536


def _equal_count_edges(values: np.ndarray, num_bins: int) -> list[float]:
    """Return the ``num_bins - 1`` interior edges that split ``values`` into equal counts."""
    if num_bins == 1:
        return []
    quantiles = np.arange(1, num_bins, dtype=np.float64) / num_bins
    return np.quantile(values.astype(np.float64), quantiles).tolist()


def _count_edges_below(values: Tensor, edges: Tensor) -> Tensor:
    """Return the number of edges <= each value, the index of its bin."""
    if edges.numel() > _FEW_EDGES or values.numel() < _MANY_VALUES:
        return torch.bucketize(values, edges, right=True)
    # For many values and a few edges, one comparison per edge is several times
    # faster than a binary search. For few values the per-call cost dominates.
    bins = torch.zeros(values.shape, dtype=torch.int16, device=values.device)
    for edge in edges.tolist():
        bins += values >= edge
    return bins


def _sinh_thresholds(eta_edges: Tensor) -> Tensor:
    """Return the smallest float32 at or above sinh(e) for each eta edge e.

    For a float32 ratio t = z / r, ``t >= threshold`` is true exactly when
    t >= sinh(e), that is when asinh(t) >= e.
    """
    exact = torch.sinh(eta_edges.double())
    rounded = exact.float()
    below = rounded.double() < exact
    return torch.where(below, torch.nextafter(rounded, torch.full_like(rounded, float("inf"))), rounded)


def _check_bins(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return value


class HierarchicalRasterScan(BaseTransform):
    r"""Order hits by the hierarchical raster scan of FM4NPP (arXiv 2508.14087).

    Hits are first sorted by transverse radius r. Each hit then falls into a box of
    a grid with ``len(r_edges) + 1`` radial, ``len(phi_edges) + 1`` azimuthal and
    ``len(eta_edges) + 1`` pseudorapidity bins; a value equal to an edge belongs to
    the bin above it. Boxes are visited in ``axis_order`` (by default r-major,
    then phi, then eta), and a stable sort keeps the r order of the hits inside
    each box, with hits of equal r in their input order. The paper's grid is
    6 (r) x 8 (phi) x 8 (eta): phi and eta edges are equal-count quantiles fitted
    on data, and the r edges split each of the three pad-row groups into two
    equal-count halves (see :meth:`fit`).

    Coordinates are computed in float32 as in
    :func:`~fm4npp_geo.transforms.cylindrical`. One stable sort of the int64 key
    (event, box, r) orders every event of a
    :class:`~torch_geometric.data.Batch` at once, without a loop over events.

    Writes ``order``, the permutation such that ``x[order]`` is the serialized
    sequence, with indices local to each event (PyG does not offset ``order``
    when batching). Every other attribute is left untouched.

    Args:
        r_edges (Tensor or list): interior radial bin edges in cm, non-decreasing.
        phi_edges (Tensor or list): interior azimuth bin edges in rad, non-decreasing.
        eta_edges (Tensor or list): interior pseudorapidity bin edges, non-decreasing.
        axis_order (sequence of str, optional): the order in which box indices are
            nested, slowest first. (default: :obj:`("r", "phi", "eta")`)

    Shapes:
        - **input:** pos :math:`(|V|, 3)`
        - **output:** order :math:`(|V|,)`
    """

    def __init__(
        self,
        r_edges: Tensor | Sequence[float],
        phi_edges: Tensor | Sequence[float],
        eta_edges: Tensor | Sequence[float],
        axis_order: Sequence[str] = AXES,
    ) -> None:
        if isinstance(axis_order, str) or sorted(axis_order) != sorted(AXES):
            raise ValueError(f"axis_order must be a permutation of {AXES}, got {axis_order!r}")
        self.axis_order = tuple(axis_order)
        for name, edges in zip(AXES, (r_edges, phi_edges, eta_edges)):
            try:
                setattr(self, f"{name}_edges", torch.as_tensor(edges, dtype=torch.float32).reshape(-1))
            except (TypeError, ValueError, RuntimeError) as error:
                raise ValueError(f"{name}_edges must be a sequence of numbers, got {edges!r}") from error
        for name in AXES:
            edges = getattr(self, f"{name}_edges")
            if not bool(torch.isfinite(edges).all()):
                raise ValueError(f"{name}_edges must be finite, got {edges.tolist()}")
            if edges.numel() > 1 and not bool((edges[1:] >= edges[:-1]).all()):
                raise ValueError(f"{name}_edges must be non-decreasing, got {edges.tolist()}")

    @classmethod
    def fit(
        cls,
        events: Iterable[Data],
        group_edges: Sequence[float] = (40.0, 57.0),
        r_bins_per_group: int = 2,
        phi_bins: int = 8,
        eta_bins: int = 8,
        axis_order: Sequence[str] = AXES,
    ) -> "HierarchicalRasterScan":
        """Fit the bin edges on events.

        The phi and eta edges are the equal-count quantiles of all hits. The r
        edges are the group boundaries plus, inside each radial group, the
        quantiles that split its hits into ``r_bins_per_group`` equal counts.
        Quantiles interpolate linearly between hits (NumPy's default method).

        Args:
            events: the events to fit on, for example the training set.
            group_edges: radii in cm that separate the pad-row groups; the sPHENIX
                TPC groups split at 40 and 57 cm.
            r_bins_per_group: equal-count radial bins inside each group.
            phi_bins: equal-count azimuth bins.
            eta_bins: equal-count pseudorapidity bins.
            axis_order: the box nesting order, see the class.

        Raises:
            ValueError: a bin count is below 1, the group edges do not increase,
                the events contain no hits, or a radial group contains none.
        """
        _check_bins("r_bins_per_group", r_bins_per_group)
        _check_bins("phi_bins", phi_bins)
        _check_bins("eta_bins", eta_bins)
        bounds = [float("-inf"), *map(float, group_edges), float("inf")]
        if any(high <= low for low, high in zip(bounds[:-1], bounds[1:])):
            raise ValueError(f"group_edges must be strictly increasing, got {list(group_edges)}")

        radii, phis, etas = [], [], []
        for data in events:
            r, phi, eta = cylindrical(hit_positions(data, cls.__name__))
            radii.append(r.cpu().numpy())
            phis.append(phi.cpu().numpy())
            etas.append(eta.cpu().numpy())
        if sum(r.size for r in radii) == 0:
            raise ValueError("HierarchicalRasterScan.fit needs events with hits, got none")
        r, phi, eta = np.concatenate(radii), np.concatenate(phis), np.concatenate(etas)

        r_edges: list[float] = []
        for index, (low, high) in enumerate(zip(bounds[:-1], bounds[1:])):
            if index > 0:
                r_edges.append(low)
            inside = r[(r >= low) & (r < high)]
            if inside.size == 0:
                raise ValueError(
                    f"no hits with {low} <= r < {high} cm to fit the radial bins of that group; "
                    f"check group_edges={list(group_edges)} against the detector"
                )
            r_edges.extend(_equal_count_edges(inside, r_bins_per_group))
        return cls(
            r_edges=r_edges,
            phi_edges=_equal_count_edges(phi, phi_bins),
            eta_edges=_equal_count_edges(eta, eta_bins),
            axis_order=axis_order,
        )

    @property
    def num_boxes(self) -> int:
        """Number of boxes of the grid."""
        return (self.r_edges.numel() + 1) * (self.phi_edges.numel() + 1) * (self.eta_edges.numel() + 1)

    def _bins(self, pos: Tensor) -> tuple[Tensor, Tensor]:
        """Return the box of each hit (in visiting order) and its float32 radius."""
        x, y, z = pos.float().t().contiguous()
        r = transverse_radius(x, y)
        phi = torch.atan2(y, x)
        # eta >= e exactly when z / r >= sinh(e), because asinh increases, so
        # the eta bins need no asinh (the slowest step on the CPU).
        ratio = z / r.clamp_min(1e-6)
        bins = {
            "r": _count_edges_below(r, self.r_edges.to(r.device)),
            "phi": _count_edges_below(phi, self.phi_edges.to(r.device)),
            "eta": _count_edges_below(ratio, _sinh_thresholds(self.eta_edges).to(r.device)),
        }
        box = torch.zeros_like(r, dtype=torch.long)
        for axis in self.axis_order:
            size = getattr(self, f"{axis}_edges").numel() + 1
            box = box * size + bins[axis]
        return box, r

    def box_index(self, pos: Tensor) -> Tensor:
        """Return the box of each hit, numbered in visiting order.

        A hit within float32 rounding of an eta edge may fall on either side
        of it, because the bins compare z / r with sinh of the edges.

        Shapes:
            - **input:** pos :math:`(|V|, 3)` in cm
            - **output:** :math:`(|V|,)` long, in ``[0, num_boxes)``
        """
        return self._bins(pos)[0]

    def to_dict(self) -> dict[str, list[float] | list[str]]:
        """Return the fitted edges and axis order as plain numbers and strings (JSON-safe)."""
        return {
            "r_edges": self.r_edges.tolist(),
            "phi_edges": self.phi_edges.tolist(),
            "eta_edges": self.eta_edges.tolist(),
            "axis_order": list(self.axis_order),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "HierarchicalRasterScan":
        """Rebuild the transform from :meth:`to_dict` output.

        Raises:
            ValueError: a key is missing or unknown.
        """
        expected = {"r_edges", "phi_edges", "eta_edges", "axis_order"}
        if set(values) != expected:
            raise ValueError(
                f"HierarchicalRasterScan settings need the keys {sorted(expected)}, got {sorted(values)}"
            )
        return cls(**values)

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` to a JSON file, atomically."""
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "HierarchicalRasterScan":
        """Read a JSON file written by :meth:`save`.

        Raises:
            FileNotFoundError: the file does not exist.
            ValueError: the file is not valid JSON, lacks the expected keys or
                contains invalid edges; the message names the file.
        """
        path = Path(path)
        values = read_json_object(path, "serialization settings")
        try:
            return cls.from_dict(values)
        except ValueError as error:
            raise ValueError(f"serialization settings {path} are invalid: {error}") from error

    def forward(self, data: Data) -> Data:
        pos = hit_positions(data, self.__class__.__name__)
        batch, ptr = batch_vector(data)
        box, r = self._bins(pos)

        # One key per hit: the box in the high bits, r below it. For r >= 0 the
        # IEEE-754 bit pattern sorts like the value. For many hits, subtracting
        # the smallest pattern shortens the key, which makes the sort faster.
        r_key = r.view(torch.int32).long()
        r_bits = 31
        if r_key.numel() >= _MANY_VALUES:
            r_key = r_key - r_key.min()
            r_bits = max(1, int(r_key.max()).bit_length())
        box_bits = max(1, (self.num_boxes - 1).bit_length())
        data.order = local_order(batch, ptr, (box << r_bits) | r_key, box_bits + r_bits)
        return data

    def __repr__(self) -> str:
        shape = "x".join(str(getattr(self, f"{axis}_edges").numel() + 1) for axis in self.axis_order)
        return f"{self.__class__.__name__}(boxes={shape}, axis_order={self.axis_order})"
