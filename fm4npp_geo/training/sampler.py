"""Deterministic batches of events capped by total hits, shared across processes."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

logger = logging.getLogger(__name__)


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    # Each epoch gets its own seed, so any epoch can be rebuilt without replaying
    # the earlier ones (needed to resume in the middle of a run).
    state = np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & ((1 << 63) - 1))


class HitBudgetBatches:
    r"""Split events into batches by a budget of hits, the same way in every process.

    Every epoch visits each event once. Events are shuffled with a generator
    seeded by ``(seed, epoch)``. With ``bucket_by_length`` they are then sorted
    stably by hit count, so events of similar length share a batch and right
    padding wastes little compute.
    Consecutive events are packed into a batch until the next one would push
    it over ``max_hits`` hits or ``max_events`` events, and the batches are
    visited in random order.

    A batch is global: in data-parallel training each of the
    ``num_replicas`` processes takes a share of it (:meth:`split`), so the
    processes together see exactly the batches of a single process. A batch
    therefore always contains at least ``num_replicas`` events, going over the
    hit budget if it must. An event with more hits than ``max_hits`` forms a
    batch of its own (with others if ``num_replicas`` requires).

    With ``locality``, events are grouped into consecutive runs of that many
    indices (for example the events of one chunk file), groups are visited in
    random order, and batches never mix groups, so a dataset that loads a
    chunk at a time reads each chunk once per epoch.

    Args:
        num_hits (sequence of int): hit count of each event.
        max_hits (int, optional): hit budget of a global batch.
            (default: :obj:`None`, no hit cap)
        max_events (int, optional): most events in a global batch.
            (default: :obj:`None`, no event cap)
        bucket_by_length (bool, optional): group events of similar hit counts.
            (default: :obj:`True`)
        shuffle (bool, optional): shuffle events and batches; without it the
            events are packed in index order. (default: :obj:`True`)
        seed (int, optional): seed of the shuffling. (default: :obj:`0`)
        num_replicas (int, optional): processes sharing each batch.
            (default: :obj:`1`)
        drop_last (bool, optional): drop the last batch of a group when it
            reached neither cap. (default: :obj:`False`)
        locality (int, optional): size of the index groups that batches stay
            within. (default: :obj:`None`)
    """

    def __init__(
        self,
        num_hits: Sequence[int],
        max_hits: int | None = None,
        max_events: int | None = None,
        bucket_by_length: bool = True,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: int = 1,
        drop_last: bool = False,
        locality: int | None = None,
    ) -> None:
        if max_hits is None and max_events is None:
            raise ValueError("give max_hits, max_events or both to size the batches, got neither")
        for name, value in (("max_hits", max_hits), ("max_events", max_events), ("locality", locality)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a whole number >= 1 or None, got {value!r}")
        if num_replicas < 1:
            raise ValueError(f"num_replicas must be >= 1, got {num_replicas}")
        if max_events is not None and max_events < num_replicas:
            raise ValueError(
                f"max_events={max_events} cannot give each of the {num_replicas} processes an event; "
                f"use max_events >= {num_replicas}"
            )
        self.num_hits = torch.as_tensor(list(num_hits), dtype=torch.long)
        if self.num_hits.numel() < num_replicas:
            raise ValueError(f"{self.num_hits.numel()} events cannot fill a batch for {num_replicas} processes")
        self.max_hits = max_hits
        self.max_events = max_events
        self.bucket_by_length = bucket_by_length
        self.shuffle = shuffle
        self.seed = seed
        self.num_replicas = num_replicas
        self.drop_last = drop_last
        self.locality = locality
        if max_hits is not None:
            oversized = int((self.num_hits > max_hits).sum())
            if oversized:
                logger.warning("%d events have more than max_hits=%d hits; each forms its own batch", oversized, max_hits)

    def _pack(self, events: list[int]) -> list[list[int]]:
        hits = self.num_hits[events].tolist()
        batches: list[list[int]] = []
        current: list[int] = []
        current_hits = 0
        for event, count in zip(events, hits):
            over_hits = self.max_hits is not None and current_hits + count > self.max_hits
            over_events = self.max_events is not None and len(current) >= self.max_events
            if current and (over_hits or over_events) and len(current) >= self.num_replicas:
                batches.append(current)
                current, current_hits = [], 0
            current.append(event)
            current_hits += count
        if not current:
            return batches
        full_hits = self.max_hits is not None and current_hits >= self.max_hits
        full_events = self.max_events is not None and len(current) >= self.max_events
        if self.drop_last and not (full_hits or full_events):
            return batches
        if len(current) >= self.num_replicas:
            batches.append(current)
        elif batches:
            batches[-1].extend(current)
        return batches

    def global_batches(self, epoch: int) -> list[list[int]]:
        """Return the global batches of an epoch as lists of event indices."""
        generator = _epoch_generator(self.seed, epoch)
        num_events = self.num_hits.numel()
        size = self.locality or num_events
        groups = [torch.arange(first, min(first + size, num_events)) for first in range(0, num_events, size)]
        if self.shuffle:
            groups = [groups[i] for i in torch.randperm(len(groups), generator=generator).tolist()]

        batches: list[list[int]] = []
        for group in groups:
            if self.shuffle:
                group = group[torch.randperm(group.numel(), generator=generator)]
            if self.bucket_by_length:
                group = group[torch.sort(self.num_hits[group], stable=True).indices]
            packed = self._pack(group.tolist())
            if self.shuffle:
                packed = [packed[i] for i in torch.randperm(len(packed), generator=generator).tolist()]
            batches.extend(packed)
        return batches

    def split(self, batch: Sequence[int], rank: int) -> list[int]:
        """Return the share of a global batch that process ``rank`` trains on.

        Events are dealt out in decreasing hit count, one per process in
        turn, which balances the hits across processes.
        """
        if not 0 <= rank < self.num_replicas:
            raise ValueError(f"rank must be in [0, {self.num_replicas}), got {rank}")
        batch = list(batch)
        order = torch.sort(self.num_hits[batch], descending=True, stable=True).indices.tolist()
        return [batch[i] for i in order[rank :: self.num_replicas]]

    def batch_hits(self, batch: Sequence[int]) -> int:
        """Return the total hit count of a batch."""
        return int(self.num_hits[list(batch)].sum())
