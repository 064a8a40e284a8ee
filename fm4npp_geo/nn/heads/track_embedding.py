"""Embedding head for track finding by clustering."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import to_dense_batch

from fm4npp_geo.nn.heads.layer_mix import LayerMix


class TrackEmbeddingHead(nn.Module):
    r"""Map mixed backbone features to unit-norm hit embeddings for clustering.

    :class:`LayerMix` projects the block outputs to ``hidden_channels``. Then
    ``attention_layers`` Transformer encoder layers let every hit attend to all
    hits of its event, because the causal backbone gives a hit no context from
    the hits after it in the serialized order. A ReLU and a Linear layer give
    the embedding, L2-normalized so that one clustering radius fits all events.

    Args:
        num_layers (int): backbone blocks to mix.
        in_channels (int): backbone width.
        hidden_channels (int, optional): width after the mix. (default: :obj:`64`)
        out_channels (int, optional): embedding dimension. (default: :obj:`12`)
        attention_layers (int, optional): Transformer encoder layers over the
            hits of each event; 0 gives a per-hit head. (default: :obj:`1`)
        heads (int, optional): attention heads. (default: :obj:`4`)

    Shapes:
        - **input:** stacked block outputs :math:`(L, |V|, D)`, and the event
          index of each hit :math:`(|V|,)` when ``attention_layers > 0``
        - **output:** :math:`(|V|, \text{out\_channels})`
    """

    def __init__(
        self,
        num_layers: int,
        in_channels: int,
        hidden_channels: int = 64,
        out_channels: int = 12,
        attention_layers: int = 1,
        heads: int = 4,
    ) -> None:
        super().__init__()
        if attention_layers < 0:
            raise ValueError(f"attention_layers must be >= 0, got {attention_layers}")
        self.mix = LayerMix(num_layers, in_channels, hidden_channels)
        self.attention = nn.ModuleList(
            nn.TransformerEncoderLayer(
                hidden_channels, heads, dim_feedforward=2 * hidden_channels, dropout=0.0, batch_first=True
            )
            for _ in range(attention_layers)
        )
        self.out = nn.Linear(hidden_channels, out_channels)

    def forward(self, layers: Tensor, batch: Tensor | None = None) -> Tensor:
        hidden = self.mix(layers)
        # Without hits there is nothing to attend to, and to_dense_batch
        # cannot count the events of an empty batch vector.
        if len(self.attention) and hidden.size(0) > 0:
            dense, mask = to_dense_batch(hidden, batch)
            for layer in self.attention:
                dense = layer(dense, src_key_padding_mask=~mask)
            hidden = dense[mask]
        return F.normalize(self.out(F.relu(hidden)), dim=-1)
