r"""Per-hit classification head for particle identification and noise
tagging."""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.utils import to_dense_batch

from fm4npp_geo.nn.heads.layer_mix import LayerMix


class PointClassifier(nn.Module):
    r"""Classify every hit from the mixed backbone features, the PID and
    noise adapter of FM4NPP (arXiv 2508.14087): :class:`LayerMix`, one
    self-attention layer over the hits of each event, and an MLP.

    With ``attention_layers=0`` and ``mlp_layers=0`` it is the linear probe:
    the layer mix and one Linear layer.

    Args:
        num_layers (int): Backbone blocks to mix.
        in_channels (int): Backbone width.
        num_classes (int): Output classes.
        hidden_channels (int, optional): Width after the mix.
            (default: :obj:`64`)
        attention_layers (int, optional): Transformer encoder layers over the
            hits of each event. (default: :obj:`1`)
        mlp_layers (int, optional): Hidden layers of the MLP before the
            output layer. (default: :obj:`1`)
        heads (int, optional): Attention heads. (default: :obj:`4`)
        dropout (float, optional): Dropout in the attention and MLP layers.
            (default: :obj:`0.0`)

    Shapes:
        - **input:** stacked block outputs :math:`(L, |V|, D)` and the event
          index of each hit :math:`(|V|,)`
        - **output:** logits :math:`(|V|, \text{num\_classes})`
    """

    def __init__(
        self,
        num_layers: int,
        in_channels: int,
        num_classes: int,
        hidden_channels: int = 64,
        attention_layers: int = 1,
        mlp_layers: int = 1,
        heads: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"Expected num_classes >= 2, got {num_classes}")
        if attention_layers < 0 or mlp_layers < 0:
            raise ValueError(f"Expected non-negative attention_layers and "
                             f"mlp_layers, got {attention_layers} and "
                             f"{mlp_layers}")
        self.mix = LayerMix(num_layers, in_channels, hidden_channels)
        self.attention = nn.ModuleList(
            nn.TransformerEncoderLayer(
                hidden_channels, heads, dim_feedforward=2 * hidden_channels,
                dropout=dropout, batch_first=True)
            for _ in range(attention_layers))
        layers: list[nn.Module] = []
        for _ in range(mlp_layers):
            layers += [nn.Linear(hidden_channels, hidden_channels), nn.GELU(),
                       nn.Dropout(dropout)]
        layers.append(nn.Linear(hidden_channels, num_classes))
        self.mlp = nn.Sequential(*layers)

    def forward(self, layers: Tensor, batch: Tensor) -> Tensor:
        hidden = self.mix(layers)
        # Without hits there is nothing to attend to, and to_dense_batch
        # cannot count the events of an empty batch vector.
        if len(self.attention) and hidden.size(0) > 0:
            dense, mask = to_dense_batch(hidden, batch)
            for layer in self.attention:
                dense = layer(dense, src_key_padding_mask=~mask)
            hidden = dense[mask]
        return self.mlp(hidden)
