"""Pretrain an FM4NPP backbone with the k-NNN objective."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data

from fm4npp_geo.nn import FM4NPPBackbone
from fm4npp_geo.pretrain import KNNNObjective, KNNNTargets
from fm4npp_geo.training.checkpoint import load_checkpoint, save_checkpoint
from fm4npp_geo.training.loop import train_steps

logger = logging.getLogger(__name__)


def pretrain_backbone(
    events: Sequence[Data],
    backbone: dict[str, Any] | None = None,
    k: int = 30,
    strict_radius: bool = False,
    steps: int = 1000,
    batch_size: int = 8,
    lr: float = 2e-4,
    weight_decay: float = 0.1,
    warmup_fraction: float = 0.05,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    progress: bool = False,
) -> tuple[FM4NPPBackbone, dict[str, float]]:
    """Pretrain a backbone on unlabeled events with the k-NNN objective.

    Events must already carry ``x`` and ``order`` (from
    :class:`~fm4npp_geo.transforms.HitFeatures` and
    :class:`~fm4npp_geo.transforms.HierarchicalRasterScan`); the k-NNN targets
    are computed here on copies, so the given events are left untouched. Labels
    are never read.

    Args:
        events: unlabeled training events.
        backbone: keyword arguments of :class:`~fm4npp_geo.nn.FM4NPPBackbone`.
        k: next nearest neighbours predicted per hit.
        strict_radius: neighbours among hits at larger r instead of later hits.
        steps, batch_size, lr, weight_decay, warmup_fraction: optimisation.
        seed: seed of the initialisation and of the batch order.
        checkpoint: where to save the pretrained backbone (atomically), if given.
        progress: show a progress bar.

    Returns:
        The pretrained backbone (in eval mode) and a training summary.
    """
    torch.manual_seed(seed)
    model = FM4NPPBackbone(**(backbone or {}))
    targets = KNNNTargets(k=k, strict_radius=strict_radius)
    prepared = [targets(event.clone()) for event in events]
    objective = KNNNObjective(model, k=k)

    summary = train_steps(
        objective,
        objective,
        prepared,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        warmup_fraction=warmup_fraction,
        seed=seed,
        progress=progress,
        description="pretrain k-NNN",
    )
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
    """Rebuild a backbone saved by :func:`save_backbone`."""
    payload = load_checkpoint(path)
    if "backbone_kwargs" not in payload or "state_dict" not in payload:
        raise ValueError(
            f"{path} is not a backbone checkpoint: it lacks 'backbone_kwargs' or 'state_dict'; "
            "write it with fm4npp_geo.training.save_backbone"
        )
    model = FM4NPPBackbone(**payload["backbone_kwargs"])
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return model
