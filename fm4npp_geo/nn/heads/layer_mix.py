"""Softmax-weighted mix of all backbone block outputs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class LayerMix(nn.Module):
    r"""Mix the outputs of all backbone blocks, then normalize and project.

    The adapter input of FM4NPP (arXiv 2508.14087): a learned softmax-weighted sum
    of the hidden states of every block, a LayerNorm and a Linear layer,

    .. math::
        \mathbf{z}_i = W \,\mathrm{LN}\Big(\sum_{l=1}^{L}
        \mathrm{softmax}(\mathbf{w})_l \, \mathbf{h}^{(l)}_i\Big) + \mathbf{b}.

    Args:
        num_layers (int): number of block outputs to mix.
        in_channels (int): width of each block output.
        out_channels (int): width of the projection.

    Shapes:
        - **input:** a sequence of ``num_layers`` tensors :math:`(*, D)`, or one
          stacked tensor :math:`(L, *, D)`
        - **output:** :math:`(*, \text{out\_channels})`
    """

    def __init__(self, num_layers: int, in_channels: int, out_channels: int) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.num_layers = num_layers
        self.layer_weight = nn.Parameter(torch.zeros(num_layers))
        self.norm = nn.LayerNorm(in_channels)
        self.proj = nn.Linear(in_channels, out_channels)

    def forward(self, layers: Sequence[Tensor] | Tensor) -> Tensor:
        stacked = layers if isinstance(layers, Tensor) else torch.stack(list(layers))
        if stacked.size(0) != self.num_layers:
            raise ValueError(f"expected {self.num_layers} block outputs, got {stacked.size(0)}")
        weight = torch.softmax(self.layer_weight, dim=0).view(-1, *([1] * (stacked.dim() - 1)))
        mixed = (weight * stacked.to(weight.dtype)).sum(dim=0)
        return self.proj(self.norm(mixed))

    def extra_repr(self) -> str:
        return f"num_layers={self.num_layers}"
