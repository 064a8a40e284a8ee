"""Embedding head for track finding by clustering."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from fm4npp_geo.nn.heads.layer_mix import LayerMix


class TrackEmbeddingHead(nn.Module):
    r"""Map mixed backbone features to unit-norm hit embeddings for clustering.

    :class:`LayerMix` followed by a ReLU and a Linear layer; the output is
    L2-normalized so that one clustering radius fits all events.

    Args:
        num_layers (int): backbone blocks to mix.
        in_channels (int): backbone width.
        hidden_channels (int): width after the mix.
        out_channels (int): embedding dimension.

    Shapes:
        - **input:** stacked block outputs :math:`(L, |V|, D)`
        - **output:** :math:`(|V|, \text{out\_channels})`
    """

    def __init__(self, num_layers: int, in_channels: int, hidden_channels: int = 64, out_channels: int = 12) -> None:
        super().__init__()
        self.mix = LayerMix(num_layers, in_channels, hidden_channels)
        self.out = nn.Linear(hidden_channels, out_channels)

    def forward(self, layers: Tensor) -> Tensor:
        return F.normalize(self.out(F.relu(self.mix(layers))), dim=-1)
