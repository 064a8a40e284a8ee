"""A minimal training loop over randomly drawn batches of events."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data
from tqdm.auto import tqdm

from fm4npp_geo.training.optim import build_optimizer, warmup_cosine

logger = logging.getLogger(__name__)


def _epoch_batches(
    lengths: Tensor, batch_size: int, bucket_by_length: bool, generator: torch.Generator
) -> list[list[int]]:
    """Split one epoch of event indices into full batches, in random batch order."""
    permutation = torch.randperm(lengths.numel(), generator=generator)
    if bucket_by_length:
        # Sorting a random permutation stably by length breaks ties at random.
        permutation = permutation[torch.sort(lengths[permutation], stable=True).indices]
    num_batches = lengths.numel() // batch_size
    batches = [permutation[i * batch_size : (i + 1) * batch_size].tolist() for i in range(num_batches)]
    order = torch.randperm(num_batches, generator=generator).tolist()
    return [batches[i] for i in order]


def train_steps(
    model: nn.Module,
    loss_fn: Callable[[Batch], Tensor],
    events: Sequence[Data],
    steps: int,
    batch_size: int = 8,
    lr: float = 2e-4,
    weight_decay: float = 0.1,
    warmup_fraction: float = 0.05,
    grad_clip: float = 1.0,
    seed: int = 0,
    progress: bool = False,
    description: str = "train",
    bucket_by_length: bool = True,
) -> dict[str, float]:
    """Train ``model`` for a fixed number of optimizer steps.

    Events are drawn without replacement with a seeded generator and batched,
    and each step minimizes ``loss_fn`` on one batch. With ``bucket_by_length``
    (the default), every epoch sorts the events by hit count, cuts them into
    batches and visits the batches in random order. Events of similar length
    then share a batch, so right padding wastes little compute. Without it,
    batches are random.
    AdamW with linear warmup and cosine decay; gradients are clipped to
    ``grad_clip`` in norm. A step whose loss is NaN or infinite is skipped and
    logged.

    Returns:
        ``loss_first``/``loss_last`` (means over the first and last 10% of
        steps), ``skipped_steps`` and ``seconds``.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not events:
        raise ValueError("no training events given")
    batch_size = min(batch_size, len(events))
    optimizer = build_optimizer(model, lr=lr, weight_decay=weight_decay)
    scheduler = warmup_cosine(optimizer, steps, int(warmup_fraction * steps))
    generator = torch.Generator().manual_seed(seed)

    model.train()
    losses: list[float] = []
    skipped = 0
    lengths = torch.tensor([event.num_nodes for event in events])
    schedule: list[list[int]] = []
    start = time.perf_counter()
    bar = tqdm(range(steps), desc=description, disable=not progress, leave=False)
    for _ in bar:
        if not schedule:
            schedule = _epoch_batches(lengths, batch_size, bucket_by_length, generator)
        batch = Batch.from_data_list([events[i] for i in schedule.pop()])

        loss = loss_fn(batch)
        if not torch.isfinite(loss):
            skipped += 1
            logger.warning("%s: non-finite loss %s at step %d, step skipped", description, loss.item(), len(losses))
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            continue
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.4f}")

    seconds = time.perf_counter() - start
    tenth = max(1, len(losses) // 10)
    summary = {
        "loss_first": float(sum(losses[:tenth]) / tenth) if losses else math.nan,
        "loss_last": float(sum(losses[-tenth:]) / tenth) if losses else math.nan,
        "skipped_steps": skipped,
        "seconds": seconds,
    }
    logger.info("%s: %d steps in %.1f s, loss %.4g -> %.4g", description, steps, seconds, summary["loss_first"], summary["loss_last"])
    return summary
