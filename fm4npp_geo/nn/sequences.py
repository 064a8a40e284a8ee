"""Index helpers for padded and packed batches of sequences."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["reverse_sequences", "reversal_index", "seq_idx_from_mask"]


def seq_idx_from_mask(mask: Tensor) -> Tensor:
    """Turn a right-padding mask into a sequence index: 0 on real positions, 1 on padding.

    Args:
        mask (Tensor): Boolean mask of real positions, as returned by
            :func:`torch_geometric.utils.to_dense_batch`. Each row must be
            ``True`` on a prefix and ``False`` after it.

    Shapes:
        - **mask:** (batch, L) -> (batch, L) long
    """
    if mask.dim() != 2 or mask.dtype != torch.bool:
        raise ValueError(
            f"Expected a boolean mask of shape (batch, L), got dtype {mask.dtype} "
            f"and shape {tuple(mask.shape)}"
        )
    seq_idx = (~mask).long()
    if mask.shape[1] > 1 and bool((seq_idx[:, 1:] < seq_idx[:, :-1]).any()):
        raise ValueError(
            "Expected right padding: every row of 'mask' must be True on a prefix "
            "and False after it"
        )
    return seq_idx


def reversal_index(seq_idx: Tensor) -> Tensor:
    """Return the index that reverses every run of equal ``seq_idx`` values in place.

    Position ``t`` of a run covering positions ``start .. end`` maps to
    ``start + end - t``, so gathering with this index reverses each packed
    sequence without moving it, and applying it twice is the identity.

    Shapes:
        - **seq_idx:** (batch, L), non-decreasing along each row -> (batch, L) long
    """
    batch, seqlen = seq_idx.shape
    positions = torch.arange(seqlen, device=seq_idx.device).expand(batch, seqlen)
    if seqlen == 0:
        return positions.clone()

    changes = seq_idx[:, 1:] != seq_idx[:, :-1]  # (b, L - 1)
    edge = torch.ones(batch, 1, dtype=torch.bool, device=seq_idx.device)
    is_start = torch.cat([edge, changes], dim=1)
    is_end = torch.cat([changes, edge], dim=1)

    # First position of the run: running maximum of the start positions seen so far.
    start = torch.where(is_start, positions, 0).cummax(dim=1).values
    # Last position of the run: running minimum of end positions, from the right.
    end_or_max = torch.where(is_end, positions, seqlen).flip(1)
    end = end_or_max.cummin(dim=1).values.flip(1)
    return start + end - positions


def reverse_sequences(h: Tensor, index: Tensor | None) -> Tensor:
    """Reverse ``h`` along dimension 1 with a :func:`reversal_index`, or whole rows.

    Shapes:
        - **h:** (batch, L, F), **index:** (batch, L) or :obj:`None` -> (batch, L, F)
    """
    if index is None:
        return h.flip(1)
    return torch.gather(h, 1, index.unsqueeze(-1).expand_as(h))
