"""Serialization by transverse radius alone."""

from __future__ import annotations

from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from fm4npp_geo.transforms.coordinates import transverse_radius
from fm4npp_geo.transforms.ordering import batch_vector, float_sort_key, hit_positions, local_order


class RadialOrder(BaseTransform):
    r"""Order hits by transverse radius :math:`r = \sqrt{x^2 + y^2}`, innermost first.

    A serialization ablation: the hierarchical raster scan without its boxes.
    Hits of equal float32 radius keep their input order.

    Writes ``order`` with per-event local indices; every other attribute is
    left untouched. A :class:`~torch_geometric.data.Batch` is ordered in one sort.

    Shapes:
        - **input:** pos :math:`(|V|, 3)`
        - **output:** order :math:`(|V|,)`
    """

    def forward(self, data: Data) -> Data:
        pos = hit_positions(data, self.__class__.__name__)
        batch, ptr = batch_vector(data)
        x, y, _ = pos.t().contiguous()
        r = transverse_radius(x, y)
        data.order = local_order(batch, ptr, float_sort_key(r), 32)
        return data
