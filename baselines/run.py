"""Train and evaluate one baseline from the ``baseline`` hydra config."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch_geometric.data import Data

from fm4npp_geo.fileio import atomic_open

logger = logging.getLogger(__name__)

#: Labeled splits of the data config, cut after ``num_pretrain`` events in
#: this order, the same events the benchmark trains and tests on.
SPLITS = ("train", "val", "test")


def split_labeled_events(
    events: Sequence[Data], num_train: int, num_val: int, num_test: int, skip: int = 0
) -> dict[str, list[Data]]:
    """Cut consecutive train, val and test splits after the first :obj:`skip` events.

    Raises:
        ValueError: If a size is negative, train or test is empty, or there
            are too few events.
    """
    sizes = {"train": num_train, "val": num_val, "test": num_test}
    if skip < 0 or min(sizes.values()) < 0 or num_train < 1 or num_test < 1:
        raise ValueError(
            f"Expected skip >= 0, num_train >= 1, num_val >= 0 and num_test >= 1, "
            f"got skip={skip} and sizes {sizes}"
        )
    needed = skip + sum(sizes.values())
    if needed > len(events):
        raise ValueError(f"The splits need {needed} events, but only {len(events)} are available")
    splits, start = {}, skip
    for name in SPLITS:
        splits[name] = list(events[start : start + sizes[name]])
        start += sizes[name]
    return splits


def load_events(cfg: DictConfig) -> dict[str, list[Data]]:
    """Load the labeled splits: TrackML events from ``trackml_dir`` or simulated TPC events."""
    data = cfg.data
    if cfg.get("trackml_dir"):
        from fm4npp_geo.data import find_trackml_events, read_trackml_event

        prefixes = find_trackml_events(cfg.trackml_dir)
        needed = int(data.num_train) + int(data.num_val) + int(data.num_test)
        events = [read_trackml_event(prefix) for prefix in prefixes[:needed]]
        return split_labeled_events(events, int(data.num_train), int(data.num_val), int(data.num_test))

    from fm4npp_geo.data import TPCSimDataset

    skip = int(data.num_pretrain)
    total = skip + int(data.num_train) + int(data.num_val) + int(data.num_test)
    simulation = data.get("simulation")
    dataset = TPCSimDataset(
        root=data.root,
        num_events=total,
        seed=int(data.seed),
        config=OmegaConf.to_container(simulation, resolve=True) if simulation else None,
        num_workers=int(data.get("num_workers", 1)),
        chunk_size=int(data.get("chunk_size", 1000)),
        progress=bool(cfg.progress),
    )
    events = [dataset[i] for i in range(skip, total)]
    return split_labeled_events(events, int(data.num_train), int(data.num_val), int(data.num_test))


def evaluate_tracker(tracker: Any, events: Sequence[Data]) -> dict[str, float]:
    """Score a track finder on :obj:`events` with the library's tracking evaluator.

    Adds the tracker's ``extra_metrics`` when it has them, and the mean
    prediction time per event in milliseconds.
    """
    from fm4npp_geo.metrics import TrackingEvaluator

    evaluator = TrackingEvaluator()
    start = time.perf_counter()
    for event in events:
        evaluator.update_event(event, tracker.predict(event))
    results = dict(evaluator.compute())
    results["ms_per_event"] = 1000.0 * (time.perf_counter() - start) / max(len(events), 1)
    if hasattr(tracker, "extra_metrics"):
        results.update(tracker.extra_metrics(events))
    return results


def evaluate_classifier(classifier: Any, events: Sequence[Data]) -> dict[str, Any]:
    """Score a per-hit classifier on :obj:`events`: accuracy, macro precision and recall."""
    from fm4npp_geo.metrics import ClassificationEvaluator

    evaluator = ClassificationEvaluator(classifier.num_classes)
    start = time.perf_counter()
    for event in events:
        evaluator.update(classifier.predict(event), getattr(event, classifier.target))
    results = dict(evaluator.compute())
    results["ms_per_event"] = 1000.0 * (time.perf_counter() - start) / max(len(events), 1)
    return results


def run_baseline(cfg: DictConfig) -> dict[str, Any]:
    """Train the baseline ``cfg.baselines[cfg.name]``, evaluate it and save everything.

    Stage checkpoints go to ``<out_dir>/checkpoints`` and the record, with
    the fit summary and the test metrics, to ``<out_dir>/baseline.json``.

    Returns:
        The record written to ``baseline.json``.

    Raises:
        ValueError: If ``cfg.name`` is not one of ``cfg.baselines``.
    """
    name = cfg.name
    if name not in cfg.baselines:
        raise ValueError(f"Unknown baseline name '{name}'; expected one of {sorted(cfg.baselines)}")
    out_dir = Path(cfg.out_dir)
    checkpoints = out_dir / "checkpoints"
    model_cfg = cfg.baselines[name]

    splits = load_events(cfg)
    if "target" in model_cfg:
        model = instantiate(model_cfg, checkpoint_path=str(checkpoints / f"{name}.pt"))
    else:
        model = instantiate(model_cfg, checkpoint_dir=str(checkpoints))
    logger.info("Training baseline %s on %d events", name, len(splits["train"]))
    summary = model.fit(splits["train"], splits["val"])

    with torch.inference_mode():
        if hasattr(model, "target"):
            test = evaluate_classifier(model, splits["test"])
        else:
            test = evaluate_tracker(model, splits["test"])

    record = {
        "name": name,
        "num_parameters": model.num_parameters(),
        "num_events": {split: len(events) for split, events in splits.items()},
        "fit": summary,
        "test": test,
        "config": OmegaConf.to_container(model_cfg, resolve=True),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_open(out_dir / "baseline.json", "w", encoding="utf-8") as file:
        json.dump(record, file, indent=2, default=float)
    return record
