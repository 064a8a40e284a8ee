"""The ``finetune`` command: train one task adapter on a backbone and score
it on the test split."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fm4npp_geo.data import TPCSimDataset
from fm4npp_geo.fileio import atomic_open
from fm4npp_geo.metrics import ClassificationEvaluator, TrackingEvaluator
from fm4npp_geo.training.checkpoint import save_checkpoint
from fm4npp_geo.transforms import HierarchicalRasterScan, HitFeatures

logger = logging.getLogger(__name__)

SPLITS = ('pretrain', 'train', 'val', 'test')


def _split_events(cfg: DictConfig) -> dict[str, list]:
    sizes = {split: int(cfg.data.get(f'num_{split}', 0)) for split in SPLITS}
    for split, size in sizes.items():
        if size < 0:
            raise ValueError(f"data.num_{split} must be >= 0, got {size}")
    if sizes['train'] < 1 or sizes['test'] < 1:
        raise ValueError(f"finetune needs data.num_train >= 1 and "
                         f"data.num_test >= 1, got {sizes['train']} and "
                         f"{sizes['test']}")
    simulation = (OmegaConf.to_container(cfg.data.simulation, resolve=True)
                  if 'simulation' in cfg.data else None)
    dataset = TPCSimDataset(
        root=cfg.data.root, num_events=sum(sizes.values()),
        seed=int(cfg.data.seed), config=simulation,
        num_workers=int(cfg.data.get('num_workers', 1)),
        chunk_size=int(cfg.data.get('chunk_size', 1000)),
        progress=bool(cfg.progress))
    splits, start = {}, 0
    for split in SPLITS:
        splits[split] = [dataset[i] for i in range(start,
                                                   start + sizes[split])]
        start += sizes[split]
    return splits


def _transforms(cfg: DictConfig, train: list
                ) -> tuple[HitFeatures, HierarchicalRasterScan, str | None]:
    # The statistics of the pretraining run go with its backbone; a random
    # backbone gets statistics fitted on the training split.
    if cfg.pretrained is None:
        return HitFeatures.fit(train), HierarchicalRasterScan.fit(train), None
    folder = Path(cfg.pretrained)
    paths = [folder / name for name in ('backbone.pt', 'features.json',
                                        'serialization.json')]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise FileNotFoundError(
            f"Pretraining output not found: {missing}; run `fm4npp-geo "
            f"pretrain out_dir={folder}` first, or set pretrained=null for "
            f"a random backbone")
    return (HitFeatures.load(paths[1]), HierarchicalRasterScan.load(paths[2]),
            str(paths[0]))


def run_finetune(cfg: DictConfig) -> dict[str, Any]:
    """Train the adapter of ``cfg.task`` and score it on the test split.

    Writes ``<out_dir>/head.pt`` (the adapter weights, and the backbone's
    when it was trained too) and ``<out_dir>/results.json``.

    Returns:
        The training summary and the test metrics.
    """
    splits = _split_events(cfg)
    features, scan, checkpoint = _transforms(cfg, splits['train'])
    prepared = {split: [scan(features(event)) for event in events]
                for split, events in splits.items() if split != 'pretrain'}
    model = instantiate(
        cfg.task, backbone_checkpoint=checkpoint,
        backbone=OmegaConf.to_container(cfg.model, resolve=True),
        finetune=bool(cfg.finetune), seed=int(cfg.seed),
        progress=bool(cfg.progress))
    summary = model.fit(prepared['train'], prepared['val'] or None)

    if hasattr(model, 'target'):
        evaluator = ClassificationEvaluator(model.num_classes)
        for event in prepared['test']:
            evaluator.update(model.predict(event), event[model.target].long())
    else:
        evaluator = TrackingEvaluator()
        for event in prepared['test']:
            evaluator.update_event(event, model.predict(event))
    metrics = evaluator.compute()

    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {'head': model.head.state_dict()}
    if model.finetune:
        state['backbone'] = model.backbone.state_dict()
        state['backbone_kwargs'] = dict(model.backbone.init_kwargs)
    save_checkpoint(state, out_dir / 'head.pt')
    result = {
        'task': OmegaConf.to_container(cfg.task, resolve=True),
        'pretrained': checkpoint,
        'finetune': bool(cfg.finetune),
        'num_parameters': model.num_parameters(),
        'train': summary,
        'test': metrics,
    }
    with atomic_open(out_dir / 'results.json', 'w', encoding='utf-8') as file:
        json.dump(result, file, indent=2, default=float)
    logger.info("wrote %s and %s", out_dir / 'head.pt',
                out_dir / 'results.json')
    return result
