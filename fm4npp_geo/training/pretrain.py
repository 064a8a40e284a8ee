"""Pretrain an FM4NPP backbone with the k-NNN objective, and backbone files."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from fm4npp_geo.nn import FM4NPPBackbone
from fm4npp_geo.pretrain import KNextNearestNeighbors, KNNNTargets
from fm4npp_geo.training.checkpoint import load_checkpoint, save_checkpoint
from fm4npp_geo.training.distributed import DistributedContext
from fm4npp_geo.training.trainer import Trainer, TrainerConfig

logger = logging.getLogger(__name__)


def knnn_loss_terms(module: nn.Module, batch: Batch) -> tuple[Tensor, Tensor]:
    """Return the k-NNN loss numerator and denominator of a (data-parallel) objective."""
    return module(batch, reduce=False)


def pretrain_backbone(
    events: Sequence[Data],
    backbone: dict[str, Any] | None = None,
    k: int = 30,
    strict_radius: bool = False,
    steps: int = 1000,
    batch_size: int | None = 8,
    max_hits: int | None = None,
    lr: float = 2e-4,
    weight_decay: float = 0.1,
    warmup_fraction: float = 0.05,
    grad_clip: float = 1.0,
    hit_count_bins: Sequence[int] | None = None,
    bin_weights: Sequence[float] | None = None,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    progress: bool = False,
) -> tuple[FM4NPPBackbone, dict[str, float]]:
    """Pretrain a backbone on unlabeled events held in memory, in this process.

    Events must already carry ``x`` and ``order`` (from
    :class:`~fm4npp_geo.transforms.HitFeatures` and a serialization transform
    such as :class:`~fm4npp_geo.transforms.HierarchicalRasterScan`). The k-NNN
    targets are computed once here, on copies, so the given events are left
    untouched. Labels are never read. For datasets on disk, several processes
    and checkpoints, use :func:`~fm4npp_geo.training.run_pretraining`.

    Args:
        events: unlabeled training events.
        backbone: keyword arguments of :class:`~fm4npp_geo.nn.FM4NPPBackbone`.
        k: next nearest neighbours predicted per hit.
        strict_radius: neighbours among hits at larger r instead of later hits.
        steps: optimizer steps.
        batch_size: most events per batch (None: no event cap).
        max_hits: most hits per batch (None: no hit cap).
        lr, weight_decay, warmup_fraction, grad_clip: optimization, see
            :class:`~fm4npp_geo.training.TrainerConfig`.
        hit_count_bins, bin_weights: per-event loss weights by hit count, see
            :class:`~fm4npp_geo.pretrain.KNextNearestNeighbors`.
        seed: seed of the initialisation and of the batch order.
        checkpoint: where to save the pretrained backbone (atomically), if given.
        progress: show a progress bar.

    Returns:
        The pretrained backbone (in eval mode) and a training summary.
    """
    if not events:
        raise ValueError("no pretraining events given")
    torch.manual_seed(seed)
    model = FM4NPPBackbone(**(backbone or {}))
    targets = KNNNTargets(k=k, strict_radius=strict_radius)
    prepared = [targets(event.clone()) for event in events]
    objective = KNextNearestNeighbors(model, k=k, hit_count_bins=hit_count_bins, bin_weights=bin_weights)

    config = TrainerConfig(
        steps=steps,
        lr=lr,
        weight_decay=weight_decay,
        warmup_fraction=warmup_fraction,
        grad_clip=grad_clip,
        max_events=None if batch_size is None else min(batch_size, len(prepared)),
        max_hits=max_hits,
        seed=seed,
        progress=progress,
        description="pretrain k-NNN",
    )
    trainer = Trainer(
        objective,
        prepared,
        [event.num_nodes for event in prepared],
        config,
        loss_fn=knnn_loss_terms,
        context=DistributedContext(),
    )
    summary = trainer.fit()
    model.eval()
    if checkpoint is not None:
        save_backbone(model, checkpoint, extra={"pretrain": summary, "k": k})
    return model, summary


def save_backbone(model: FM4NPPBackbone, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Save a backbone's constructor arguments and weights to one checkpoint file."""
    payload = {"backbone_kwargs": dict(model.init_kwargs), "state_dict": model.state_dict()}
    if extra:
        payload["extra"] = extra
    return save_checkpoint(payload, path)


def load_backbone(path: str | Path) -> FM4NPPBackbone:
    """Rebuild a backbone saved by :func:`save_backbone`.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is damaged or needs arbitrary unpickling (see
            :func:`~fm4npp_geo.training.load_checkpoint`), or its settings or
            weights do not make a backbone; the message names the file.
    """
    payload = load_checkpoint(path)
    if "backbone_kwargs" not in payload or "state_dict" not in payload:
        raise ValueError(
            f"{path} is not a backbone checkpoint: it lacks 'backbone_kwargs' or 'state_dict'; "
            "write it with fm4npp_geo.training.save_backbone"
        )
    # Settings or weights that do not fit the model raise TypeError (an
    # unknown argument), ValueError or RuntimeError (a shape mismatch).
    try:
        model = FM4NPPBackbone(**payload["backbone_kwargs"])
        model.load_state_dict(payload["state_dict"])
    except (TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"{path} does not hold a valid backbone checkpoint: {error}") from error
    model.eval()
    return model
