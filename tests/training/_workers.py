"""Tiny k-NNN training runs shared by the resume and data-parallel tests.

The tests load this file with runpy to train in their own process, and run it
as a script for the runs that must live in other processes:

    python _workers.py resume OUT_DIR STEPS EVERY SLEEP   # killed, then resumed
    python -m torch.distributed.run --standalone --nproc_per_node=2 _workers.py ddp OUT_DIR STEPS
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from torch_geometric.data import Data

from fm4npp_geo.nn import FM4NPPBackbone
from fm4npp_geo.pretrain import KNextNearestNeighbors, KNNNTargets
from fm4npp_geo.training import Trainer, TrainerConfig
from fm4npp_geo.training.distributed import DistributedContext, close_distributed, init_distributed
from fm4npp_geo.training.pretrain import knnn_loss_terms

TINY_BACKBONE = dict(d_model=16, n_layer=1, d_state=8, headdim=8, chunk_size=16)
K = 3


def tiny_events(num_events: int = 12, seed: int = 0) -> list[Data]:
    generator = torch.Generator().manual_seed(seed)
    events = []
    for index in range(num_events):
        num_hits = 10 + 3 * (index % 5)
        data = Data(x=torch.rand(num_hits, 4, generator=generator), order=torch.randperm(num_hits, generator=generator))
        events.append(KNNNTargets(k=K)(data))
    return events


class Interrupted(Exception):
    """Raised by :func:`train` at ``stop_at``."""


def after_step(step: int, sleep: float, stop_at: int | None) -> None:
    time.sleep(sleep)
    if step == stop_at:
        raise Interrupted(f"stopped after step {step}")


def train(
    out_dir: str | None,
    steps: int,
    every: int = 0,
    resume: bool = False,
    sleep: float = 0.0,
    max_events: int = 4,
    context: DistributedContext | None = None,
    stop_at: int | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """Train the tiny objective; return its final weights and the summary.

    ``sleep`` seconds pass after every step; with ``stop_at``, the run raises
    :class:`Interrupted` after that step, like a process stopped by a signal.
    """
    events = tiny_events()
    torch.manual_seed(0)
    objective = KNextNearestNeighbors(FM4NPPBackbone(**TINY_BACKBONE), k=K)
    config = TrainerConfig(
        steps=steps,
        lr=3e-3,
        max_events=max_events,
        seed=1,
        checkpoint_dir=None if out_dir is None else str(Path(out_dir) / "checkpoints"),
        checkpoint_every=every,
        resume=resume,
        log_dir=out_dir,
    )
    trainer = Trainer(
        objective,
        events,
        [event.num_nodes for event in events],
        config,
        loss_fn=knnn_loss_terms,
        context=context or DistributedContext(),
        step_callback=lambda step: after_step(step, sleep, stop_at),
    )
    summary = trainer.fit()
    return {name: value.detach().clone() for name, value in objective.state_dict().items()}, summary


def main(argv: list[str]) -> None:
    mode, out_dir = argv[0], argv[1]
    if mode == "resume":
        steps, every, sleep = int(argv[2]), int(argv[3]), float(argv[4])
        weights, _ = train(out_dir, steps, every, resume=True, sleep=sleep)
        torch.save(weights, Path(out_dir) / "final.pt")
    elif mode == "ddp":
        context = init_distributed()
        try:
            weights, summary = train(None, int(argv[2]), context=context)
            if context.is_main:
                record = {"weights": weights, "loss_last": summary["loss_last"], "world_size": context.world_size}
                torch.save(record, Path(out_dir) / "ddp.pt")
        finally:
            close_distributed(context)
    else:
        raise ValueError(f"unknown mode {mode!r}; use 'resume' or 'ddp'")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1:])
