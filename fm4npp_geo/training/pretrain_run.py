"""The ``pretrain`` command: k-NNN pretraining on simulated events, resumable and data-parallel."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch_geometric.transforms import Compose

from fm4npp_geo.data import TPCSimDataset
from fm4npp_geo.nn import FM4NPPBackbone
from fm4npp_geo.pretrain import KNextNearestNeighbors, KNNNTargets
from fm4npp_geo.training.distributed import DistributedContext, barrier, close_distributed, init_distributed
from fm4npp_geo.training.pretrain import knnn_loss_terms, save_backbone
from fm4npp_geo.training.trainer import Trainer, TrainerConfig
from fm4npp_geo.transforms import HierarchicalRasterScan, HitFeatures

logger = logging.getLogger(__name__)

SPLITS = ("pretrain", "train", "val", "test")


def _whole_number(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return value


def _optional_whole_number(value: object, name: str) -> int | None:
    return None if value is None else _whole_number(value, name, 1)


def check_pretrain_config(cfg: DictConfig) -> None:
    """Check the settings that would otherwise fail late in a run.

    Raises:
        ValueError: a split size, step count or batch cap is not a valid whole number.
    """
    _whole_number(cfg.data.num_pretrain, "data.num_pretrain", 1)
    for split in SPLITS[1:]:
        _whole_number(cfg.data.get(f"num_{split}", 0), f"data.num_{split}", 0)
    _whole_number(cfg.pretrain.steps, "pretrain.steps", 1)
    _whole_number(cfg.pretrain.k, "pretrain.k", 1)
    _optional_whole_number(cfg.pretrain.batch_size, "pretrain.batch_size")
    _optional_whole_number(cfg.pretrain.max_hits, "pretrain.max_hits")
    _optional_whole_number(cfg.max_event_hits, "max_event_hits")
    _whole_number(cfg.fit_events, "fit_events", 1)
    if cfg.pretrain.batch_size is None and cfg.pretrain.max_hits is None:
        raise ValueError("set pretrain.batch_size, pretrain.max_hits or both to size the batches")


def _open_dataset(cfg: DictConfig, context: DistributedContext) -> TPCSimDataset:
    """Open the simulated events, simulating missing chunks on rank 0 only."""
    num_events = sum(int(cfg.data.get(f"num_{split}", 0)) for split in SPLITS)

    def build() -> TPCSimDataset:
        return TPCSimDataset(
            root=cfg.data.root,
            num_events=num_events,
            seed=int(cfg.data.seed),
            config=OmegaConf.to_container(cfg.data.simulation, resolve=True) if "simulation" in cfg.data else None,
            num_workers=int(cfg.data.get("num_workers", 1)),
            chunk_size=int(cfg.data.get("chunk_size", 1000)),
            progress=bool(cfg.progress) and context.is_main,
        )

    if context.is_main:
        dataset = build()
    barrier(context)
    if not context.is_main:
        dataset = build()
    return dataset


def _fit_transforms(
    dataset: TPCSimDataset, indices: list[int], cfg: DictConfig, out_dir: Path, context: DistributedContext
) -> tuple[HitFeatures, HierarchicalRasterScan]:
    """Fit the feature and serialization statistics once, save them, and read them back on every rank.

    A resumed run reuses the saved files, so its events are transformed
    exactly as before the interruption.
    """
    features_path, scan_path = out_dir / "features.json", out_dir / "serialization.json"
    if context.is_main and not (cfg.resume and features_path.is_file() and scan_path.is_file()):
        sample = [dataset[i] for i in indices[: int(cfg.fit_events)]]
        HitFeatures.fit(sample).save(features_path)
        HierarchicalRasterScan.fit(sample).save(scan_path)
        logger.info("fitted feature and serialization statistics on %d events", len(sample))
    barrier(context)
    return HitFeatures.load(features_path), HierarchicalRasterScan.load(scan_path)


def run_pretraining(cfg: DictConfig) -> dict[str, Any]:
    """Pretrain a backbone with k-NNN on the pretraining split of ``cfg.data``.

    Under ``torchrun`` every process trains on its share of each batch. Rank 0
    simulates missing events, fits the feature and serialization statistics
    on up to ``fit_events`` pretraining events, writes checkpoints to
    ``<out_dir>/checkpoints``, per-step metrics to ``<out_dir>/metrics.csv``
    and the final backbone to ``<out_dir>/backbone.pt``. Events with more
    than ``max_event_hits`` hits are left out.

    Returns:
        The training summary plus ``backbone`` (the file written),
        ``num_events`` and ``num_parameters``.
    """
    check_pretrain_config(cfg)
    context = init_distributed()
    try:
        return _run(cfg, context)
    finally:
        close_distributed(context)


def _run(cfg: DictConfig, context: DistributedContext) -> dict[str, Any]:
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    objective_cfg = cfg.pretrain

    # 1. Events: the pretraining split, without oversized events.
    dataset = _open_dataset(cfg, context)
    num_hits = [dataset[i].num_nodes for i in range(int(cfg.data.num_pretrain))]
    cap = cfg.max_event_hits
    indices = [i for i, hits in enumerate(num_hits) if cap is None or hits <= cap]
    if not indices:
        raise ValueError(f"every pretraining event has more than max_event_hits={cap} hits")
    if len(indices) < len(num_hits):
        logger.info("left out %d events with more than %d hits", len(num_hits) - len(indices), cap)

    # 2. Features, serialization and k-NNN targets, computed as events are read.
    features, scan = _fit_transforms(dataset, indices, cfg, out_dir, context)
    dataset.transform = Compose([features, scan, KNNNTargets(k=int(objective_cfg.k), strict_radius=bool(objective_cfg.strict_radius))])
    events = dataset.index_select(indices)

    # 3. Model and objective; every rank starts from the same weights.
    torch.manual_seed(int(cfg.seed))
    backbone = FM4NPPBackbone(**OmegaConf.to_container(cfg.model, resolve=True))
    objective = KNextNearestNeighbors(
        backbone,
        k=int(objective_cfg.k),
        hit_count_bins=objective_cfg.get("hit_count_bins"),
        bin_weights=objective_cfg.get("bin_weights"),
    )

    # 4. Training.
    config = TrainerConfig(
        steps=int(objective_cfg.steps),
        lr=float(objective_cfg.lr),
        weight_decay=float(objective_cfg.weight_decay),
        warmup_fraction=float(objective_cfg.warmup_fraction),
        grad_clip=float(objective_cfg.grad_clip),
        max_hits=objective_cfg.max_hits,
        max_events=objective_cfg.batch_size,
        locality=int(cfg.data.get("chunk_size", 1000)),
        seed=int(cfg.seed),
        precision=str(cfg.precision),
        checkpoint_dir=str(out_dir / "checkpoints"),
        checkpoint_every=int(cfg.checkpoint_every),
        keep_checkpoints=int(cfg.keep_checkpoints),
        resume=bool(cfg.resume),
        log_dir=str(out_dir),
        log_every=int(cfg.log_every),
        num_workers=int(cfg.num_workers),
        progress=bool(cfg.progress),
        description="pretrain k-NNN",
    )
    trainer = Trainer(
        objective,
        events,
        [num_hits[i] for i in indices],
        config,
        loss_fn=knnn_loss_terms,
        context=context,
        extra_state={"backbone_kwargs": dict(backbone.init_kwargs), "k": int(objective_cfg.k)},
    )
    summary: dict[str, Any] = trainer.fit()

    # 5. The backbone, with the statistics its inputs need.
    path = out_dir / "backbone.pt"
    if context.is_main:
        extra = {"pretrain": summary, "k": int(objective_cfg.k), "features": features.to_dict(), "serialization": scan.to_dict()}
        save_backbone(backbone, path, extra=extra)
        logger.info("wrote %s", path)
    summary.update({"backbone": str(path), "num_events": len(indices), "num_parameters": backbone.num_parameters()})
    return summary
