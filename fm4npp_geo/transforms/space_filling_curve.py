"""Z-order (Morton) and Hilbert serializations of hits on a quantized 3-D grid."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import scatter

from fm4npp_geo.transforms.coordinates import cylindrical
from fm4npp_geo.transforms.ordering import batch_vector, hit_positions, local_order

CURVES = ("z", "hilbert")
COORDINATES = {"cylindrical": ("eta", "phi", "r"), "cartesian": ("x", "y", "z")}

# Largest bits per axis: the three axes share one int64 key with the event index.
MAX_BITS = 20


def _spread_bits(values: Tensor) -> Tensor:
    """Move bit b of each value to bit 3b (values below 2^21), by the usual mask steps."""
    values = values & 0x1FFFFF
    values = (values | (values << 32)) & 0x1F00000000FFFF
    values = (values | (values << 16)) & 0x1F0000FF0000FF
    values = (values | (values << 8)) & 0x100F00F00F00F00F
    values = (values | (values << 4)) & 0x10C30C30C30C30C3
    values = (values | (values << 2)) & 0x1249249249249249
    return values


def morton_code(cells: Tensor) -> Tensor:
    """Interleave the bits of three cell indices, the first axis most significant.

    Shapes:
        - **input:** cells :math:`(N, 3)` long, each below ``2 ** 21``
        - **output:** :math:`(N,)` long
    """
    first, second, third = cells.long().unbind(-1)
    return (_spread_bits(first) << 2) | (_spread_bits(second) << 1) | _spread_bits(third)


def hilbert_code(cells: Tensor, bits: int) -> Tensor:
    """Return the position of each cell along the 3-D Hilbert curve of ``2 ** bits`` cells a side.

    Follows J. Skilling, "Programming the Hilbert curve", AIP Conf. Proc. 707,
    381 (2004). The axes are turned into the "transposed" Hilbert index by
    undoing the curve's rotations and reflections level by level, then Gray
    coded. Interleaving the transposed bits, first axis most significant,
    gives the index. Consecutive indices are neighbouring cells.

    Shapes:
        - **input:** cells :math:`(N, 3)` long, each below ``2 ** bits``
        - **output:** :math:`(N,)` long
    """
    axes = [column.clone() for column in cells.long().unbind(-1)]
    top = 1 << (bits - 1)

    # 1. Undo the excess work, from the coarsest level to the finest.
    level = top
    while level > 1:
        low_bits = level - 1
        for i in range(3):
            is_set = (axes[i] & level) != 0
            # A set bit inverts the low bits of the first axis, a clear bit
            # exchanges the low bits of the first axis and axis i.
            inverted = axes[0] ^ low_bits
            swap = torch.where(is_set, torch.zeros_like(axes[0]), (axes[0] ^ axes[i]) & low_bits)
            axes[0] = torch.where(is_set, inverted, axes[0] ^ swap)
            if i > 0:
                axes[i] = axes[i] ^ swap
        level >>= 1

    # 2. Gray encode.
    for i in range(1, 3):
        axes[i] = axes[i] ^ axes[i - 1]
    flip = torch.zeros_like(axes[0])
    level = top
    while level > 1:
        flip = torch.where((axes[2] & level) != 0, flip ^ (level - 1), flip)
        level >>= 1
    axes = [axis ^ flip for axis in axes]

    return morton_code(torch.stack(axes, dim=-1))


class SpaceFillingCurveOrder(BaseTransform):
    r"""Order hits along a Z-order (Morton) or Hilbert curve, for serialization ablations.

    The three coordinates, (eta, phi, r) or (x, y, z), are scaled to
    ``[0, 2 ** bits)`` between ``bounds`` and truncated to integer cells. Hits
    are ordered by the cell's position along the curve, with hits of the same
    cell in their input order. The first coordinate is the most significant
    one. FM4NPP (arXiv 2508.14087) found the Hilbert order worse than the
    hierarchical raster scan on every task.

    Writes ``order`` with per-event local indices; every other attribute is
    left untouched. A :class:`~torch_geometric.data.Batch` is ordered in one sort.

    Args:
        curve (str, optional): ``"z"`` or ``"hilbert"``. (default: :obj:`"hilbert"`)
        coordinates (str, optional): ``"cylindrical"`` for (eta, phi, r) with
            r in cm, or ``"cartesian"`` for (x, y, z) in cm.
            (default: :obj:`"cylindrical"`)
        bits (int, optional): grid bits per axis, 1 to 20. (default: :obj:`10`)
        bounds (sequence, optional): ``[[low, high]] * 3``, the coordinate
            range mapped onto the grid; values outside are clamped. If
            :obj:`None`, each event uses the range of its own hits.
            (default: :obj:`None`)

    Shapes:
        - **input:** pos :math:`(|V|, 3)`
        - **output:** order :math:`(|V|,)`
    """

    def __init__(
        self,
        curve: str = "hilbert",
        coordinates: str = "cylindrical",
        bits: int = 10,
        bounds: Sequence[Sequence[float]] | None = None,
    ) -> None:
        if curve not in CURVES:
            raise ValueError(f"curve must be one of {CURVES}, got {curve!r}")
        if coordinates not in COORDINATES:
            raise ValueError(f"coordinates must be one of {tuple(COORDINATES)}, got {coordinates!r}")
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= MAX_BITS:
            raise ValueError(f"bits must be a whole number in [1, {MAX_BITS}], got {bits!r}")
        self.curve = curve
        self.coordinates = coordinates
        self.bits = bits
        self.bounds = None
        if bounds is not None:
            self.bounds = torch.as_tensor(bounds, dtype=torch.float32)
            if self.bounds.shape != (3, 2) or not bool((self.bounds[:, 1] > self.bounds[:, 0]).all()):
                raise ValueError(f"bounds must be [[low, high]] * 3 with low < high, got {bounds!r}")

    def _coordinates(self, pos: Tensor) -> Tensor:
        if self.coordinates == "cartesian":
            return pos
        r, phi, eta = cylindrical(pos)
        return torch.stack([eta, phi, r], dim=-1)

    def cells(self, values: Tensor, batch: Tensor, num_events: int) -> Tensor:
        """Quantize coordinates to integer grid cells.

        Shapes:
            - **input:** values :math:`(|V|, 3)`, batch :math:`(|V|,)`
            - **output:** :math:`(|V|, 3)` long in ``[0, 2 ** bits)``
        """
        if self.bounds is not None:
            low = self.bounds[:, 0].to(values.device)
            span = (self.bounds[:, 1] - self.bounds[:, 0]).to(values.device)
        else:
            low_per_event = scatter(values, batch, dim=0, dim_size=num_events, reduce="min")
            high_per_event = scatter(values, batch, dim=0, dim_size=num_events, reduce="max")
            low = low_per_event[batch]
            span = (high_per_event - low_per_event)[batch]
        size = 1 << self.bits
        # An axis whose hits all share one value maps to cell 0.
        scaled = (values - low) / span.clamp_min(torch.finfo(values.dtype).tiny) * size
        return scaled.floor().clamp(0, size - 1).long()

    def forward(self, data: Data) -> Data:
        pos = hit_positions(data, self.__class__.__name__)
        batch, ptr = batch_vector(data)
        cells = self.cells(self._coordinates(pos), batch, ptr.numel() - 1)
        if self.curve == "z":
            key = morton_code(cells)
        else:
            key = hilbert_code(cells, self.bits)
        data.order = local_order(batch, ptr, key, 3 * self.bits)
        return data

    def __repr__(self) -> str:
        axes = ", ".join(COORDINATES[self.coordinates])
        return f"{self.__class__.__name__}(curve={self.curve!r}, axes=({axes}), bits={self.bits})"


__all__ = ["SpaceFillingCurveOrder", "hilbert_code", "morton_code"]
