"""Hierarchical raster scan: the FM4NPP serialization of detector hits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from fm4npp_geo.transforms.coordinates import cylindrical

AXES = ("r", "phi", "eta")


def _equal_count_edges(values: Tensor, num_bins: int) -> Tensor:
    """Return the ``num_bins - 1`` interior edges that split ``values`` into equal counts."""
    if num_bins < 1:
        raise ValueError(f"number of bins must be >= 1, got {num_bins}")
    if num_bins == 1 or values.numel() == 0:
        return values.new_zeros(0)
    quantiles = torch.arange(1, num_bins, dtype=torch.float64) / num_bins
    return torch.quantile(values.double(), quantiles).to(values.dtype)


def batch_vector(data: Data) -> tuple[Tensor, Tensor]:
    """Return the per-hit event index and the event offsets ``ptr`` of a Data or Batch."""
    num_hits = data.num_nodes
    device = data.pos.device
    batch = getattr(data, "batch", None)
    ptr = getattr(data, "ptr", None)
    if batch is None or ptr is None:
        batch = torch.zeros(num_hits, dtype=torch.long, device=device)
        ptr = torch.tensor([0, num_hits], dtype=torch.long, device=device)
    return batch, ptr


class HierarchicalRasterScan(BaseTransform):
    r"""Order hits by the hierarchical raster scan of FM4NPP (arXiv 2508.14087).

    Hits are first sorted by transverse radius r. Each hit then falls into a box of
    a grid with ``len(r_edges) + 1`` radial, ``len(phi_edges) + 1`` azimuthal and
    ``len(eta_edges) + 1`` pseudorapidity bins. Boxes are visited in
    ``axis_order`` (by default r-major, then phi, then eta), and a stable sort keeps
    the r order of the hits inside each box. The paper's grid is 6 (r) x 8 (phi) x
    8 (eta): phi and eta edges are equal-count quantiles fitted on data, and the r
    edges split each of the three pad-row groups into two equal-count halves
    (see :meth:`fit`).

    Writes ``order``, the permutation such that ``x[order]`` is the serialized
    sequence. For a :class:`~torch_geometric.data.Batch` the permutation is
    computed for all events at once and contains per-event local indices. Every other
    attribute is left untouched.

    Args:
        r_edges (Tensor or list): interior radial bin edges in cm, increasing.
        phi_edges (Tensor or list): interior azimuth bin edges in rad, increasing.
        eta_edges (Tensor or list): interior pseudorapidity bin edges, increasing.
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
        if sorted(axis_order) != sorted(AXES):
            raise ValueError(f"axis_order must be a permutation of {AXES}, got {tuple(axis_order)}")
        self.axis_order = tuple(axis_order)
        self.r_edges = torch.as_tensor(r_edges, dtype=torch.float32).reshape(-1)
        self.phi_edges = torch.as_tensor(phi_edges, dtype=torch.float32).reshape(-1)
        self.eta_edges = torch.as_tensor(eta_edges, dtype=torch.float32).reshape(-1)
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

        Args:
            events: the events to fit on (the training set).
            group_edges: radii in cm that separate the pad-row groups; the sPHENIX
                TPC groups split at 40 and 57 cm.
            r_bins_per_group: equal-count radial bins inside each group.
            phi_bins: equal-count azimuth bins.
            eta_bins: equal-count pseudorapidity bins.
        """
        radii, phis, etas = [], [], []
        for data in events:
            r, phi, eta = cylindrical(data.pos.float())
            radii.append(r)
            phis.append(phi)
            etas.append(eta)
        if not radii or sum(r.numel() for r in radii) == 0:
            raise ValueError("HierarchicalRasterScan.fit needs events with hits, got none")
        r, phi, eta = torch.cat(radii), torch.cat(phis), torch.cat(etas)

        bounds = [float("-inf"), *map(float, group_edges), float("inf")]
        r_edges = []
        for index, (low, high) in enumerate(zip(bounds[:-1], bounds[1:])):
            if index > 0:
                r_edges.append(torch.tensor([low]))
            inside = r[(r >= low) & (r < high)]
            r_edges.append(_equal_count_edges(inside, r_bins_per_group))
        return cls(
            r_edges=torch.cat(r_edges),
            phi_edges=_equal_count_edges(phi, phi_bins),
            eta_edges=_equal_count_edges(eta, eta_bins),
            axis_order=axis_order,
        )

    @property
    def num_boxes(self) -> int:
        return (self.r_edges.numel() + 1) * (self.phi_edges.numel() + 1) * (self.eta_edges.numel() + 1)

    def box_index(self, pos: Tensor) -> Tensor:
        """Return the box index of each hit in visiting order, [num_hits] long."""
        r, phi, eta = cylindrical(pos.float())
        bins = {
            "r": torch.bucketize(r, self.r_edges.to(pos.device), right=True),
            "phi": torch.bucketize(phi, self.phi_edges.to(pos.device), right=True),
            "eta": torch.bucketize(eta, self.eta_edges.to(pos.device), right=True),
        }
        box = torch.zeros_like(bins["r"])
        for axis in self.axis_order:
            size = getattr(self, f"{axis}_edges").numel() + 1
            box = box * size + bins[axis]
        return box

    def to_dict(self) -> dict[str, list[float] | list[str]]:
        """Return the fitted edges as plain numbers (JSON-safe)."""
        return {
            "r_edges": self.r_edges.tolist(),
            "phi_edges": self.phi_edges.tolist(),
            "eta_edges": self.eta_edges.tolist(),
            "axis_order": list(self.axis_order),
        }

    @classmethod
    def from_dict(cls, values: dict) -> "HierarchicalRasterScan":
        return cls(**values)

    def forward(self, data: Data) -> Data:
        if data.pos is None:
            raise ValueError("HierarchicalRasterScan needs 'pos' [num_hits, 3]")
        batch, ptr = batch_vector(data)
        r = torch.hypot(data.pos[:, 0], data.pos[:, 1])

        # 1. Sort by r. 2. Stable sort by (event, box), which keeps the r order inside a box.
        by_r = torch.sort(r, stable=True).indices
        key = batch * self.num_boxes + self.box_index(data.pos)
        perm = by_r[torch.sort(key[by_r], stable=True).indices]

        # 3. Make indices local to each event.
        data.order = perm - ptr[batch[perm]]
        return data

    def __repr__(self) -> str:
        shape = "x".join(str(getattr(self, f"{a}_edges").numel() + 1) for a in self.axis_order)
        return f"{self.__class__.__name__}(boxes={shape}, axis_order={self.axis_order})"
