"""The FM4NPP backbone: hit embedding and a stack of Mamba2 blocks."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from fm4npp_geo.nn.block import Mamba2Block
from fm4npp_geo.nn.embedding import HitEmbedding
from fm4npp_geo.nn.norm import RMSNorm
from fm4npp_geo.nn.sequences import reversal_index, seq_idx_from_mask
from fm4npp_geo.nn.ssd import check_seq_idx

__all__ = ["FM4NPPBackbone"]


class FM4NPPBackbone(nn.Module):
    """The FM4NPP sequence backbone (arXiv 2508.14087) over serialized hits.

    Hits are embedded with :class:`HitEmbedding`, passed through ``n_layer``
    pre-norm residual blocks :math:`h \\leftarrow h +
    \\mathrm{Dropout}(\\mathrm{Mamba2}(\\mathrm{RMSNorm}(h)))` and a final
    RMSNorm. Mamba2 runs in one direction by default, so a hit's output
    depends only on the hits before it in the serialized order and never on
    right padding or on other events in the batch. The bidirectional variant
    (for ablations) adds a reversed scan per block that stays inside each event.

    The presets m1 to m6 of the paper (``d_model`` 64 to 1536) are listed in
    :data:`fm4npp_geo.nn.presets.PRESETS`.

    Args:
        d_model (int, optional): Hidden size. (default: :obj:`64`)
        n_layer (int, optional): Number of Mamba2 blocks. (default: :obj:`12`)
        d_state (int, optional): SSM state size per group. (default: :obj:`16`)
        headdim (int, optional): Channels per Mamba2 head. (default: :obj:`64`)
        expand (int, optional): Mamba2 inner width over ``d_model``.
            (default: :obj:`2`)
        d_conv (int, optional): Width of the causal convolution.
            (default: :obj:`4`)
        ngroups (int, optional): Groups of heads sharing ``B`` and ``C``.
            (default: :obj:`1`)
        chunk_size (int, optional): Chunk length of the SSD scan. Results do
            not depend on it. The intra-chunk work grows with it, so on CPU a
            chunk of 32 to 64 is usually faster. (default: :obj:`256`)
        dropout (float, optional): Dropout on each block's mixer output.
            (default: :obj:`0.0`)
        in_features (int, optional): Input features per hit (energy and
            coordinates). (default: :obj:`4`)
        num_frequencies (int, optional): Sinusoidal frequencies per coordinate.
            (default: :obj:`10`)
        learnable_embedding (bool, optional): Train the embedding's random
            projections. (default: :obj:`False`)
        bidirectional (bool, optional): Add a reversed scan to every block.
            (default: :obj:`False`)
        scan (str, optional): Mamba2 scan path, ``"auto"``, ``"torch"`` or
            ``"fused"`` (see :class:`~fm4npp_geo.nn.Mamba2`).
            (default: :obj:`"auto"`)

    Shapes:
        - **input:** x (batch, L, in_features), sequences padded on the right,
          or a PyG ``Batch`` (see :meth:`forward_batch`)
        - **output:** (batch, L, d_model), and with ``return_all_layers`` a
          list of ``n_layer`` tensors (batch, L, d_model)
    """

    def __init__(
        self,
        d_model: int = 64,
        n_layer: int = 12,
        d_state: int = 16,
        headdim: int = 64,
        expand: int = 2,
        d_conv: int = 4,
        ngroups: int = 1,
        chunk_size: int = 256,
        dropout: float = 0.0,
        in_features: int = 4,
        num_frequencies: int = 10,
        learnable_embedding: bool = False,
        bidirectional: bool = False,
        scan: str = "auto",
    ) -> None:
        super().__init__()
        if n_layer <= 0:
            raise ValueError(f"Expected a positive 'n_layer', got {n_layer}")
        #: Constructor arguments, stored with checkpoints to rebuild the model.
        self.init_kwargs: dict[str, Any] = dict(
            d_model=d_model,
            n_layer=n_layer,
            d_state=d_state,
            headdim=headdim,
            expand=expand,
            d_conv=d_conv,
            ngroups=ngroups,
            chunk_size=chunk_size,
            dropout=dropout,
            in_features=in_features,
            num_frequencies=num_frequencies,
            learnable_embedding=learnable_embedding,
            bidirectional=bidirectional,
            scan=scan,
        )
        self.d_model = d_model
        self.n_layer = n_layer
        self.in_features = in_features
        self.bidirectional = bidirectional

        self.embedding = HitEmbedding(
            d_model,
            in_features=in_features,
            num_frequencies=num_frequencies,
            learnable=learnable_embedding,
        )
        self.layers = nn.ModuleList(
            Mamba2Block(
                d_model,
                dropout=dropout,
                bidirectional=bidirectional,
                d_state=d_state,
                d_conv=d_conv,
                expand=expand,
                headdim=headdim,
                ngroups=ngroups,
                chunk_size=chunk_size,
                scan=scan,
            )
            for _ in range(n_layer)
        )
        self.norm_f = RMSNorm(d_model)

    def forward(
        self,
        x: Tensor | Data,
        return_all_layers: bool = False,
        mask: Tensor | None = None,
        seq_idx: Tensor | None = None,
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Encode right-padded or packed hit sequences, or a PyG ``Batch``.

        Args:
            x (Tensor or Batch): Hit features in serialized order,
                (batch, L, F). A ``Data`` or ``Batch`` goes to
                :meth:`forward_batch` and gets per-hit outputs.
            return_all_layers (bool, optional): Also return each block's output,
                the residual stream after the block and before the final norm.
                (default: :obj:`False`)
            mask (Tensor, optional): Boolean (batch, L) mask of real positions
                in right-padded rows. Only the bidirectional variant needs it,
                to reverse each sequence without its padding.
                (default: :obj:`None`, no padding)
            seq_idx (Tensor, optional): Integer (batch, L) sequence index of
                several sequences packed into each row, non-decreasing along the
                row. No output depends on another sequence.
                (default: :obj:`None`)

        Returns:
            The final hidden states (batch, L, d_model), and with
            ``return_all_layers`` also the list of ``n_layer`` block outputs.
        """
        if isinstance(x, Data):
            return self.forward_batch(x, return_all_layers=return_all_layers)
        if x.dim() != 3 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Expected hit features of shape (batch, L, {self.in_features}), "
                f"got {tuple(x.shape)}"
            )
        batch, seqlen, _ = x.shape
        if mask is not None and seq_idx is not None:
            raise ValueError("Pass either 'mask' (padded rows) or 'seq_idx' (packed rows), not both")
        if mask is not None and mask.shape != (batch, seqlen):
            raise ValueError(
                f"Expected 'mask' of shape {(batch, seqlen)}, got {tuple(mask.shape)}"
            )
        if seq_idx is not None:
            check_seq_idx(seq_idx, batch, seqlen)

        reverse_index = None
        if self.bidirectional and seq_idx is not None:
            reverse_index = reversal_index(seq_idx)
        elif self.bidirectional and mask is not None:
            reverse_index = reversal_index(seq_idx_from_mask(mask))

        h = self.embedding(x)
        block_outputs = []
        for layer in self.layers:
            h = layer(h, seq_idx=seq_idx, reverse_index=reverse_index)
            block_outputs.append(h)

        out = self.norm_f(h)
        if return_all_layers:
            return out, block_outputs
        return out

    def forward_batch(
        self, batch: Data, return_all_layers: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Encode the hits of a PyG ``Batch`` (or one ``Data`` event).

        Reads ``batch.x`` [num_hits, F] and ``batch.order`` [num_hits], where
        ``order`` contains, per event, local hit indices in serialized order: the
        event's k-th sequence element is its hit ``order[k]``. In a ``Batch``
        the global hit index is ``order + ptr[batch]``. Each event becomes one
        sequence, packed one after another into a single row and kept apart by
        a sequence index, and the outputs are returned in the original hit
        order.

        Args:
            batch (Data or Batch): Events with ``x`` and ``order``. A ``Data``
                without a ``batch`` vector is one event.
            return_all_layers (bool, optional): Also return each block's output.
                (default: :obj:`False`)

        Returns:
            Hidden states [num_hits, d_model], and with ``return_all_layers``
            also a list of ``n_layer`` tensors [num_hits, d_model].
        """
        x = getattr(batch, "x", None)
        order = getattr(batch, "order", None)
        if x is None or order is None:
            missing = [name for name, v in (("x", x), ("order", order)) if v is None]
            raise ValueError(
                f"Input batch is missing {missing}. Apply HitFeatures and "
                f"HierarchicalRasterScan to each event first"
            )
        num_hits = x.size(0)
        if order.shape != (num_hits,):
            raise ValueError(
                f"Expected 'order' of shape ({num_hits},) to match 'x', got "
                f"{tuple(order.shape)}"
            )

        event_index, ptr = self._event_index(batch, num_hits, x.device)
        perm = self._global_permutation(order, event_index, ptr)
        if num_hits == 0:
            empty = x.new_empty(0, self.d_model)
            return (empty, [empty] * self.n_layer) if return_all_layers else empty

        # All events go into one packed row in serialized order. ``seq_idx``
        # keeps them apart, so no compute is spent on padding.
        packed = x[perm].unsqueeze(0)  # (1, num_hits, F)
        seq_idx = event_index.unsqueeze(0)  # (1, num_hits)
        result = self.forward(packed, return_all_layers=return_all_layers, seq_idx=seq_idx)

        def to_hit_order(hidden: Tensor) -> Tensor:
            out = hidden.new_empty(num_hits, hidden.size(-1))
            out[perm] = hidden[0]
            return out

        if return_all_layers:
            final, block_outputs = result
            return to_hit_order(final), [to_hit_order(h) for h in block_outputs]
        return to_hit_order(result)

    @staticmethod
    def _event_index(
        batch: Data, num_hits: int, device: torch.device
    ) -> tuple[Tensor, Tensor]:
        """Return the event of each hit and the event offsets ``ptr``."""
        event_index = getattr(batch, "batch", None)
        if event_index is None:
            event_index = torch.zeros(num_hits, dtype=torch.long, device=device)
            ptr = torch.tensor([0, num_hits], device=device)
            return event_index, ptr
        ptr = getattr(batch, "ptr", None)
        if ptr is None:
            raise ValueError(
                "Input has a 'batch' vector but no 'ptr'. Build it with "
                "torch_geometric.data.Batch.from_data_list"
            )
        if num_hits > 1 and bool((event_index[1:] < event_index[:-1]).any()):
            raise ValueError(
                "Expected a sorted 'batch' vector (the hits of each event together), "
                "as torch_geometric.data.Batch.from_data_list builds it"
            )
        return event_index, ptr

    @staticmethod
    def _global_permutation(order: Tensor, event_index: Tensor, ptr: Tensor) -> Tensor:
        """Turn per-event serialization orders into one permutation of all hits."""
        num_hits = order.numel()
        sizes = (ptr[1:] - ptr[:-1])[event_index]
        if bool(((order < 0) | (order >= sizes)).any()):
            raise ValueError(
                "Expected 'order' to contain local hit indices within each event, "
                "found values outside [0, event size)"
            )
        perm = order + ptr[event_index]
        if not bool((torch.bincount(perm, minlength=num_hits) == 1).all()):
            raise ValueError(
                "Expected 'order' to be a permutation of each event's hits, found "
                "repeated indices"
            )
        return perm

    def num_parameters(self) -> int:
        """Return the number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.init_kwargs.items())
