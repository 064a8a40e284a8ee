"""Random serialization, the control of the ordering ablations."""

from __future__ import annotations

import torch
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from fm4npp_geo.transforms.ordering import batch_vector, hit_positions, local_order

# Bits of the random sort key. Two hits of an event draw the same key with
# probability 2^-40, and then keep their input order.
_KEY_BITS = 40


class RandomOrder(BaseTransform):
    r"""Order the hits of each event uniformly at random.

    Writes ``order`` with per-event local indices; every other attribute is
    left untouched. A :class:`~torch_geometric.data.Batch` is ordered in one
    sort of random keys.

    Args:
        seed (int, optional): seed of the transform's own random generator, so
            the sequence of orders repeats from run to run. If :obj:`None`,
            torch's global generator is used. (default: :obj:`None`)

    Shapes:
        - **input:** pos :math:`(|V|, 3)`
        - **output:** order :math:`(|V|,)`
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    def forward(self, data: Data) -> Data:
        pos = hit_positions(data, self.__class__.__name__)
        batch, ptr = batch_vector(data)
        key = torch.randint(0, 1 << _KEY_BITS, (pos.size(0),), generator=self.generator)
        data.order = local_order(batch, ptr, key.to(pos.device), _KEY_BITS)
        return data

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(seed={self.seed})"
