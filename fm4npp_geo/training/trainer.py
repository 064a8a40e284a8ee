"""A resumable, data-parallel training loop over batches capped by total hits."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from torch_geometric.data import Batch
from tqdm.auto import tqdm

from fm4npp_geo.training.checkpoint import (
    checkpoint_path,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    remove_partial_checkpoints,
    save_checkpoint,
)
from fm4npp_geo.training.distributed import (
    DistributedContext,
    all_gather_objects,
    all_reduce_sum,
    barrier,
    current_context,
)
from fm4npp_geo.training.metrics_log import TrainingLog
from fm4npp_geo.training.optim import build_optimizer, warmup_cosine
from fm4npp_geo.training.rng import capture_rng_state, restore_rng_state
from fm4npp_geo.training.sampler import HitBudgetBatches
from fm4npp_geo.training.trainer_config import TrainerConfig

logger = logging.getLogger(__name__)

#: A loss function receives the (possibly data-parallel) model and a batch on
#: the training device. It returns the mean loss, or a pair (sum, count) that
#: the trainer divides after summing both over processes.
LossFn = Callable[[nn.Module, Batch], "Tensor | tuple[Tensor, Tensor]"]

CHECKPOINT_KIND = "fm4npp-geo training state"


def _default_loss(module: nn.Module, batch: Batch) -> Tensor | tuple[Tensor, Tensor]:
    return module(batch)


class Trainer:
    r"""Train a model with AdamW, warmup plus cosine decay and gradient clipping.

    Each step draws one global batch from :class:`HitBudgetBatches`; under
    ``torchrun`` every process takes its share of it and gradients are
    averaged by :class:`~torch.nn.parallel.DistributedDataParallel`. A loss
    given as (sum, count) is divided by the count summed over processes, so
    any number of processes trains exactly like one process with the whole
    batch, up to floating-point summation order.

    A step whose loss or gradient norm is NaN or infinite on any process is
    skipped on all of them and logged. Checkpoints hold the model, optimizer,
    scheduler, every process's random-generator states and the position in
    the data, and are written atomically by rank 0. A run resumed from one
    repeats the uninterrupted run bit for bit on the CPU.

    Args:
        model (nn.Module): the module whose trainable parameters are optimized.
        dataset (sequence of Data): events, indexed by the batch sampler.
        num_hits (sequence of int): hit count of each event of ``dataset``.
        config (TrainerConfig): settings.
        loss_fn (callable, optional): see :data:`LossFn`; by default the
            model's output. (default: :obj:`None`)
        context (DistributedContext, optional): process placement; by default
            read from the initialized process group. (default: :obj:`None`)
        extra_state (dict, optional): plain values stored in every checkpoint,
            for example the model's constructor arguments. (default: :obj:`None`)
        step_callback (callable, optional): called with the step count after
            every step, on every process. (default: :obj:`None`)
    """

    def __init__(
        self,
        model: nn.Module,
        dataset: Sequence,
        num_hits: Sequence[int],
        config: TrainerConfig,
        loss_fn: LossFn | None = None,
        context: DistributedContext | None = None,
        extra_state: dict[str, Any] | None = None,
        step_callback: Callable[[int], None] | None = None,
    ) -> None:
        if len(dataset) != len(num_hits):
            raise ValueError(f"num_hits has {len(num_hits)} entries for a dataset of {len(dataset)} events")
        self.config = config
        self.context = context or current_context()
        self.dataset = dataset
        self.loss_fn = loss_fn or _default_loss
        self.extra_state = dict(extra_state or {})
        self.step_callback = step_callback

        self.model = model.to(self.context.device)
        self.module: nn.Module = self.model
        if self.context.distributed:
            device_ids = [self.context.device.index] if self.context.device.type == "cuda" else None
            self.module = DistributedDataParallel(self.model, device_ids=device_ids)
        self.parameters = [parameter for parameter in self.model.parameters() if parameter.requires_grad]
        self.optimizer = build_optimizer(self.model, lr=config.lr, weight_decay=config.weight_decay, betas=config.betas)
        self.scheduler = warmup_cosine(
            self.optimizer, config.steps, int(config.warmup_fraction * config.steps), config.min_lr_ratio
        )
        self.batches = HitBudgetBatches(
            num_hits,
            max_hits=config.max_hits,
            max_events=config.max_events,
            bucket_by_length=config.bucket_by_length,
            seed=config.seed,
            num_replicas=self.context.world_size,
            drop_last=config.drop_last,
            locality=config.locality,
        )
        if not self.batches.global_batches(0):
            raise ValueError(f"{len(dataset)} events give no batch; lower max_events or set drop_last=False")
        precision = config.precision
        if precision == "auto":
            precision = "bf16" if self.context.device.type == "cuda" else "fp32"
        self.precision = precision

        self.step = 0
        self.epoch = 0
        self.position = 0
        self.losses: list[float] = []
        self.skipped = 0
        self.seconds = 0.0

    # Checkpoints ---------------------------------------------------------------

    def state_dict(self, rng_states: list[dict[str, Any]]) -> dict[str, Any]:
        """Return everything needed to continue training, as tensors and plain values."""
        return {
            "kind": CHECKPOINT_KIND,
            "step": self.step,
            "epoch": self.epoch,
            "position": self.position,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng_states,
            "world_size": self.context.world_size,
            "losses": torch.tensor(self.losses, dtype=torch.float64),
            "skipped_steps": self.skipped,
            "seconds": self.seconds,
            "config": dataclasses.asdict(self.config),
            "extra": self.extra_state,
        }

    def save(self) -> None:
        """Write a checkpoint of the current step (rank 0) and prune old ones."""
        rng_states = all_gather_objects(capture_rng_state(), self.context)
        if self.context.is_main:
            path = save_checkpoint(self.state_dict(rng_states), checkpoint_path(self.config.checkpoint_dir, self.step))
            prune_checkpoints(self.config.checkpoint_dir, self.config.keep_checkpoints)
            logger.info("%s: saved checkpoint %s", self.config.description, path)

    def load(self, path: str) -> None:
        """Restore the training state from a checkpoint written by :meth:`save`."""
        # On the CPU: random-generator states must be CPU tensors, and the model
        # and optimizer copy their tensors to the training device as they load.
        state = load_checkpoint(path, map_location="cpu")
        if state.get("kind") != CHECKPOINT_KIND:
            raise ValueError(f"{path} is not a training checkpoint: its 'kind' is {state.get('kind')!r}")
        changed = {
            key: (state["config"].get(key), value)
            for key, value in dataclasses.asdict(self.config).items()
            if key in ("steps", "lr", "seed", "max_hits", "max_events", "bucket_by_length", "locality")
            and state["config"].get(key) != value
        }
        if changed:
            logger.warning("resuming %s with changed settings (saved, now): %s", path, changed)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.epoch, self.position = state["step"], state["epoch"], state["position"]
        self.losses = state["losses"].tolist()
        self.skipped = state["skipped_steps"]
        self.seconds = state["seconds"]
        if state["world_size"] == self.context.world_size:
            restore_rng_state(state["rng"][self.context.rank])
        else:
            logger.warning(
                "checkpoint %s was written by %d processes, resuming with %d: random generators are reseeded",
                path, state["world_size"], self.context.world_size,
            )
            self._seed_generators(self.step)

    def _resume(self) -> None:
        if self.context.is_main:
            remove_partial_checkpoints(self.config.checkpoint_dir)
        found = list_checkpoints(self.config.checkpoint_dir)
        if not found:
            logger.info("%s: no checkpoint in %s, starting at step 0", self.config.description, self.config.checkpoint_dir)
            return
        # A damaged newest checkpoint (a disk error or a partial copy, since
        # writes are atomic) falls back to the previous one, which repeats a
        # few steps instead of losing the run.
        failures = []
        for _, path in reversed(found):
            try:
                self.load(str(path))
            except ValueError as error:
                logger.warning("%s: cannot resume from %s (%s); trying the previous checkpoint",
                               self.config.description, path, error)
                failures.append(f"{path}: {error}")
                continue
            logger.info("%s: resumed from %s at step %d", self.config.description, path, self.step)
            return
        raise ValueError(
            f"cannot resume: none of the checkpoints in {self.config.checkpoint_dir} can be read "
            f"({'; '.join(failures)}); delete them to start from step 0"
        )

    def _seed_generators(self, offset: int = 0) -> None:
        seed = self.config.seed + 1000 * self.context.rank + offset
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)

    # Training ------------------------------------------------------------------

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "bf16":
            return torch.autocast(device_type=self.context.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _loader(self, batches: list[list[int]]) -> DataLoader:
        local = [self.batches.split(batch, self.context.rank) for batch in batches]
        return DataLoader(
            self.dataset, batch_sampler=local, collate_fn=Batch.from_data_list, num_workers=self.config.num_workers
        )

    def _loss(self, batch: Batch) -> tuple[Tensor, float]:
        """Return this process's loss to back-propagate and the loss over all processes."""
        with self._autocast():
            output = self.loss_fn(self.module, batch)
        world = self.context.world_size
        if isinstance(output, tuple):
            numerator, denominator = output
            numerator = numerator.float()
            summary = torch.stack([numerator.detach(), denominator.detach().float(), torch.isfinite(numerator).float()])
            total, count, finite = all_reduce_sum(summary, self.context).tolist()
            scale = world / count if count > 0 else 0.0
            reported = total / count if count > 0 else 0.0
            loss = numerator * scale
        else:
            loss = output.float()
            summary = torch.stack([loss.detach(), torch.isfinite(loss).float()])
            total, finite = all_reduce_sum(summary, self.context).tolist()
            reported = total / world
        if finite < world:
            reported = math.nan
        return loss, reported

    def _train_step(self, batch: Batch) -> tuple[float, float]:
        """Run one optimizer step; return the loss and the gradient norm (NaN when skipped)."""
        batch = batch.to(self.context.device)
        self.optimizer.zero_grad(set_to_none=True)
        loss, reported = self._loss(batch)
        grad_norm = math.nan
        if math.isfinite(reported):
            loss.backward()
            max_norm = self.config.grad_clip if self.config.grad_clip > 0 else math.inf
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.parameters, max_norm))
            if math.isfinite(grad_norm):
                self.optimizer.step()
            else:
                logger.warning("%s: gradient norm %s at step %d, step skipped", self.config.description, grad_norm, self.step)
                self.optimizer.zero_grad(set_to_none=True)
                reported = math.nan
        else:
            logger.warning("%s: non-finite loss at step %d, step skipped", self.config.description, self.step)
        self.scheduler.step()
        if not math.isfinite(reported):
            self.skipped += 1
        return reported, grad_norm

    def fit(self) -> dict[str, float]:
        """Train until ``config.steps`` steps are done; return a summary.

        Returns:
            ``loss_first`` and ``loss_last`` (mean losses of the first and last
            10% of the steps that were not skipped), ``skipped_steps``,
            ``steps``, ``seconds`` (training time, summed over resumed runs) and
            ``hits_per_second`` of this run.
        """
        config = self.config
        if config.resume:
            self._resume()
        if self.step == 0:
            self._seed_generators()
        log = TrainingLog(config.log_dir, resume_step=self.step) if config.log_dir and self.context.is_main else None
        bar = tqdm(
            total=config.steps, initial=self.step, desc=config.description,
            disable=not (config.progress and self.context.is_main), leave=False,
        )
        hits_seen, run_seconds = 0, 0.0
        self.model.train()
        try:
            while self.step < config.steps:
                batches = self.batches.global_batches(self.epoch)
                if self.position >= len(batches):
                    self.epoch, self.position = self.epoch + 1, 0
                    continue
                remaining = batches[self.position : self.position + config.steps - self.step]
                loader = iter(self._loader(remaining))
                for global_batch in remaining:
                    # The step time includes reading and collating the batch.
                    start = time.perf_counter()
                    loss, grad_norm = self._train_step(next(loader))
                    seconds = time.perf_counter() - start
                    self.seconds += seconds
                    run_seconds += seconds
                    self.step += 1
                    self.position += 1
                    self.losses.append(loss)
                    hits = self.batches.batch_hits(global_batch)
                    hits_seen += hits
                    if log is not None and (self.step % config.log_every == 0 or self.step == config.steps):
                        log.write({
                            "step": self.step, "epoch": self.epoch, "loss": loss,
                            "lr": self.scheduler.get_last_lr()[0], "grad_norm": grad_norm,
                            "events": len(global_batch), "hits": hits, "seconds": seconds,
                            "hits_per_second": hits / seconds if seconds > 0 else math.nan,
                        })
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.4g}")
                    if config.checkpoint_dir is not None and (
                        (config.checkpoint_every and self.step % config.checkpoint_every == 0)
                        or self.step == config.steps
                    ):
                        self.save()
                    if self.step_callback is not None:
                        self.step_callback(self.step)
        finally:
            bar.close()
            if log is not None:
                log.close()
        barrier(self.context)
        return self._summary(hits_seen / run_seconds if run_seconds > 0 else math.nan)

    def _summary(self, hits_per_second: float) -> dict[str, float]:
        finite = [loss for loss in self.losses if math.isfinite(loss)]
        tenth = max(1, len(finite) // 10)
        summary = {
            "loss_first": float(np.mean(finite[:tenth])) if finite else math.nan,
            "loss_last": float(np.mean(finite[-tenth:])) if finite else math.nan,
            "skipped_steps": self.skipped,
            "steps": self.step,
            "seconds": self.seconds,
            "hits_per_second": hits_per_second,
        }
        logger.info(
            "%s: %d steps in %.1f s, loss %.4g -> %.4g, %d skipped",
            self.config.description, self.step, self.seconds, summary["loss_first"], summary["loss_last"], self.skipped,
        )
        return summary
