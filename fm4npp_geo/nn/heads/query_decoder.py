r"""Mask2Former-style query decoder that turns hit features into tracks."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch_geometric.utils import to_dense_batch

from fm4npp_geo.nn.heads.layer_mix import LayerMix


@dataclass
class QueryPrediction:
    r"""Predictions of one decoder stage for a padded batch of events.

    Args:
        class_logits (Tensor): Object and no-object logits of every query,
            :obj:`[B, Q, 2]`; column 0 is "track", column 1 "no object".
        mask_logits (Tensor): Logit that hit :math:`n` belongs to query
            :math:`q`, :obj:`[B, Q, L]`.
    """

    class_logits: Tensor
    mask_logits: Tensor


class _DecoderLayer(nn.Module):
    # One refinement layer: masked cross-attention from the queries to the
    # hits, self-attention among the queries and a feed-forward network,
    # each with a residual connection and LayerNorm (Mask2Former's order).
    def __init__(self, dim: int, heads: int, feedforward: int,
                 dropout: float) -> None:
        super().__init__()
        self.cross = nn.MultiheadAttention(dim, heads, dropout=dropout,
                                           batch_first=True)
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout,
                                               batch_first=True)
        self.feedforward = nn.Sequential(
            nn.Linear(dim, feedforward), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(feedforward, dim))
        self.norm_cross = nn.LayerNorm(dim)
        self.norm_self = nn.LayerNorm(dim)
        self.norm_ff = nn.LayerNorm(dim)

    def forward(self, queries: Tensor, hits: Tensor,
                attention_mask: Tensor) -> Tensor:
        attended, _ = self.cross(queries, hits, hits,
                                 attn_mask=attention_mask,
                                 need_weights=False)
        queries = self.norm_cross(queries + attended)
        attended, _ = self.self_attn(queries, queries, queries,
                                     need_weights=False)
        queries = self.norm_self(queries + attended)
        return self.norm_ff(queries + self.feedforward(queries))


class QueryTrackDecoder(nn.Module):
    r"""Decode tracks from per-hit features with learned queries, as
    Mask2Former does for image segments (Cheng et al., CVPR 2022).

    Each of :obj:`num_queries` learned queries predicts whether it is a
    track and, through the dot product of its mask embedding with every
    hit's projected feature, which hits belong to it. In each of
    :obj:`num_layers` refinement layers a query first attends only to the
    hits that the previous prediction put in its mask. This is masked
    cross-attention, and a query with an empty mask attends to all hits.
    Then the query attends to the other queries and passes a feed-forward
    network. Predictions are made before the first layer and after every
    layer, for auxiliary losses.

    Args:
        in_channels (int): Size of the input hit features.
        hidden_channels (int, optional): Size of queries and hit features
            inside the decoder. (default: :obj:`64`)
        num_queries (int, optional): Number of queries; more than the
            largest number of tracks of an event. (default: :obj:`150`)
        num_layers (int, optional): Refinement layers. (default: :obj:`2`)
        heads (int, optional): Attention heads. (default: :obj:`4`)
        feedforward_channels (int, optional): Hidden size of the
            feed-forward networks. (default: :obj:`128`)
        dropout (float, optional): Dropout in attention and feed-forward
            layers. (default: :obj:`0.0`)

    Shapes:
        - **input:** hit features :obj:`[B, L, in_channels]`, padding mask
          :obj:`[B, L]` (true for padded positions)
        - **output:** a list of :obj:`num_layers + 1`
          :class:`QueryPrediction`, the last one final
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int = 64,
        num_queries: int = 150,
        num_layers: int = 2,
        heads: int = 4,
        feedforward_channels: int = 128,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if hidden_channels % heads != 0:
            raise ValueError(f"Expected hidden_channels divisible by heads, "
                             f"got {hidden_channels} and {heads}")
        if num_queries < 1 or num_layers < 0:
            raise ValueError(f"Expected num_queries >= 1 and num_layers >= 0,"
                             f" got {num_queries} and {num_layers}")
        self.num_queries = num_queries
        self.heads = heads
        self.hit_projection = nn.Sequential(
            nn.Linear(in_channels, hidden_channels), nn.LayerNorm(hidden_channels))
        self.query_features = nn.Embedding(num_queries, hidden_channels)
        self.layers = nn.ModuleList(
            _DecoderLayer(hidden_channels, heads, feedforward_channels, dropout)
            for _ in range(num_layers))
        self.output_norm = nn.LayerNorm(hidden_channels)
        self.class_head = nn.Linear(hidden_channels, 2)
        self.mask_head = nn.Sequential(
            nn.Linear(hidden_channels, hidden_channels), nn.ReLU(),
            nn.Linear(hidden_channels, hidden_channels), nn.ReLU(),
            nn.Linear(hidden_channels, hidden_channels))

    def _predict(self, queries: Tensor, hits: Tensor,
                 padding: Tensor) -> QueryPrediction:
        queries = self.output_norm(queries)
        mask_logits = torch.einsum('bqc,blc->bql', self.mask_head(queries),
                                   hits)
        mask_logits = mask_logits.masked_fill(padding[:, None, :], -1e4)
        return QueryPrediction(self.class_head(queries), mask_logits)

    def _attention_mask(self, prediction: QueryPrediction,
                        padding: Tensor) -> Tensor:
        # True blocks attention. A query attends to the hits it currently
        # claims; a query that claims none attends to every real hit.
        blocked = prediction.mask_logits.detach() < 0.0
        blocked |= padding[:, None, :]
        empty = blocked.all(dim=-1, keepdim=True)
        blocked = torch.where(empty, padding[:, None, :].expand_as(blocked),
                              blocked)
        return blocked.repeat_interleave(self.heads, dim=0)

    def forward(self, hits: Tensor, padding: Tensor) -> list[QueryPrediction]:
        if hits.dim() != 3 or padding.shape != hits.shape[:2]:
            raise ValueError(f"Expected hits [B, L, C] and padding [B, L], "
                             f"got {list(hits.shape)} and "
                             f"{list(padding.shape)}")
        hits = self.hit_projection(hits)
        queries = self.query_features.weight.unsqueeze(0).expand(
            hits.shape[0], -1, -1)
        # An event without hits would leave every key blocked; give it one
        # unblocked padded key so attention stays finite.
        padding_for_attention = padding.clone()
        padding_for_attention[padding.all(dim=1), 0] = False

        predictions = [self._predict(queries, hits, padding)]
        for layer in self.layers:
            mask = self._attention_mask(predictions[-1], padding_for_attention)
            queries = layer(queries, hits, mask)
            predictions.append(self._predict(queries, hits, padding))
        return predictions


@torch.no_grad()
def assign_hits(prediction: QueryPrediction, padding: Tensor,
                min_score: float = 0.5) -> Tensor:
    r"""Assign every hit to its best query.

    The score of hit :math:`n` for query :math:`q` is
    :math:`p_q(\text{track})\, \sigma(m_{qn})`, as in Mask2Former's panoptic
    inference. Queries whose no-object class wins are dropped. A hit whose
    best score is below :obj:`min_score` stays unassigned (``-1``), which is
    how noise hits leave the tracks. A track's label is its query index.

    Shapes:
        - **input:** a :class:`QueryPrediction` for :obj:`[B, Q, L]`,
          padding :obj:`[B, L]`
        - **output:** :obj:`[B, L]` long labels, ``-1`` for unassigned and
          padded hits
    """
    probability = prediction.class_logits.softmax(dim=-1)
    is_track = probability[..., 0] > probability[..., 1]
    score = probability[..., 0:1] * prediction.mask_logits.sigmoid()
    score = score.masked_fill(~is_track[..., None], 0.0)
    best_score, best_query = score.max(dim=1)
    labels = torch.where((best_score >= min_score) & ~padding, best_query,
                         torch.full_like(best_query, -1))
    return labels


class QueryTrackHead(nn.Module):
    r"""Track-finding adapter of FM4NPP: :class:`LayerMix` of the backbone's
    block outputs followed by a :class:`QueryTrackDecoder`.

    Args:
        num_blocks (int): Backbone blocks to mix.
        in_channels (int): Backbone width.
        hidden_channels (int, optional): Width of the mix and the decoder.
            (default: :obj:`64`)
        **decoder_kwargs: Further arguments of :class:`QueryTrackDecoder`.

    Shapes:
        - **input:** stacked block outputs :math:`(L, |V|, D)` and the event
          index of each hit :math:`(|V|,)`
        - **output:** the decoder's predictions for the events padded to
          :obj:`[B, L_max]`, and the padding mask :obj:`[B, L_max]`
    """

    def __init__(self, num_blocks: int, in_channels: int,
                 hidden_channels: int = 64, **decoder_kwargs) -> None:
        super().__init__()
        self.mix = LayerMix(num_blocks, in_channels, hidden_channels)
        self.decoder = QueryTrackDecoder(hidden_channels, hidden_channels,
                                         **decoder_kwargs)

    def forward(self, layers: Tensor,
                batch: Tensor) -> tuple[list[QueryPrediction], Tensor]:
        dense, mask = to_dense_batch(self.mix(layers), batch)
        return self.decoder(dense, ~mask), ~mask
