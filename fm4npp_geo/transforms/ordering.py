"""Shared steps of the serialization transforms: event offsets and keyed sorts."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data

#: Largest number of bits an event index and a per-hit key may take together in
#: one int64 sort key. Bit 63 stays clear, so every key is non-negative.
KEY_BITS = 62


def batch_vector(data: Data) -> tuple[Tensor, Tensor]:
    """Return the per-hit event index and the event offsets ``ptr`` of a Data or Batch.

    A :class:`~torch_geometric.data.Data` without ``batch`` and ``ptr`` is one event.
    """
    num_hits = data.num_nodes or 0
    device = data.pos.device
    batch = getattr(data, "batch", None)
    ptr = getattr(data, "ptr", None)
    if batch is None or ptr is None:
        batch = torch.zeros(num_hits, dtype=torch.long, device=device)
        ptr = torch.tensor([0, num_hits], dtype=torch.long, device=device)
    return batch, ptr


def hit_positions(data: Data, transform: str) -> Tensor:
    """Return ``data.pos`` as float32 after checking its shape and values.

    Raises:
        ValueError: ``pos`` is missing, not [num_hits, 3], or not finite (or so
            large that the sum of all coordinates overflows float32).
    """
    pos = getattr(data, "pos", None)
    if pos is None:
        raise ValueError(f"{transform} needs 'pos' [num_hits, 3], but the event has no 'pos'")
    if pos.dim() != 2 or pos.size(-1) != 3:
        raise ValueError(f"{transform} needs 'pos' of shape [num_hits, 3], got {tuple(pos.shape)}")
    pos = pos.float()
    # A sum is NaN or infinite whenever one term is, and it costs far less than
    # an elementwise check. Only positions near 1e38 cm make a finite sum overflow.
    if not bool(torch.isfinite(pos.sum())):
        raise ValueError(f"{transform} needs finite hit positions, got NaN or infinite values in 'pos'")
    return pos


def float_sort_key(values: Tensor) -> Tensor:
    """Map float32 values to int64 keys in [0, 2^32) that sort in the same order.

    The IEEE-754 bit pattern of a non-negative float increases with its value;
    flipping the 31 low bits of negative patterns makes the whole range
    monotone. Equal floats get equal keys, and -0.0 sorts just before +0.0.
    """
    bits = values.float().contiguous().view(torch.int32).long()
    bits = torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
    return bits + (1 << 31)


def local_order(batch: Tensor, ptr: Tensor, key: Tensor, key_bits: int) -> Tensor:
    """Sort the hits of every event by ``key``, stably; return per-event local indices.

    The event index takes the bits above ``key_bits``, so one stable sort
    orders all events at once. When the event index and the key do not fit
    in :data:`KEY_BITS` bits together, the hits are sorted by key first and
    then stably by event, which gives the same result with two sorts.

    Args:
        batch (Tensor): event index of each hit, non-decreasing as in a PyG
            ``Batch``, [num_hits].
        ptr (Tensor): event offsets, [num_events + 1].
        key (Tensor): non-negative int64 sort key below ``2 ** key_bits``, [num_hits].
        key_bits (int): number of bits the key may use.

    Returns:
        Tensor: ``order`` [num_hits] with indices local to each event: the
        k-th hit of event e in the sequence is hit ``ptr[e] + order[ptr[e] + k]``.
    """
    num_events = ptr.numel() - 1
    event_bits = max(1, (num_events - 1).bit_length())
    if key_bits + event_bits <= KEY_BITS:
        perm = torch.sort((batch << key_bits) | key, stable=True).indices
    else:
        perm = torch.sort(key, stable=True).indices
        perm = perm[torch.sort(batch[perm], stable=True).indices]
    # Events are contiguous and sorted first, so the hit at sorted position i
    # belongs to the same event as input position i.
    return perm - ptr[batch]
