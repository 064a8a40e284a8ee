"""Single-process training of a model on events held in memory."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from fm4npp_geo.training.distributed import DistributedContext
from fm4npp_geo.training.trainer import Trainer, TrainerConfig


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
    """Train ``model`` in this process for a fixed number of optimizer steps.

    A thin front end of :class:`~fm4npp_geo.training.Trainer` for small runs:
    batches hold ``batch_size`` events (an epoch's last, smaller batch is
    dropped), on the CPU, with no checkpoints. With ``bucket_by_length`` (the
    default), every epoch sorts the events by hit count, cuts them into
    batches and visits the batches in random order, so right padding wastes
    little compute. The optimizer is AdamW with linear warmup and cosine decay,
    gradients are clipped to ``grad_clip`` in norm, and a step whose loss is
    NaN or infinite is skipped and logged.

    Returns:
        ``loss_first``/``loss_last`` (means over the first and last 10% of
        steps), ``skipped_steps``, ``steps`` and ``seconds``.
    """
    if not events:
        raise ValueError("no training events given")
    config = TrainerConfig(
        steps=steps,
        lr=lr,
        weight_decay=weight_decay,
        warmup_fraction=warmup_fraction,
        grad_clip=grad_clip,
        max_events=min(batch_size, len(events)),
        bucket_by_length=bucket_by_length,
        drop_last=True,
        seed=seed,
        progress=progress,
        description=description,
    )
    trainer = Trainer(
        model,
        events,
        [event.num_nodes for event in events],
        config,
        loss_fn=lambda module, batch: loss_fn(batch),
        context=DistributedContext(),
    )
    return trainer.fit()
