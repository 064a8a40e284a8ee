"""The head-to-head benchmark: simulate, pretrain, train every tracker, evaluate."""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch_geometric.data import Data
from tqdm.auto import tqdm

from fm4npp_geo.benchmark.plots import plot_efficiency_curves, plot_event_display
from fm4npp_geo.benchmark.report import format_table, write_record
from fm4npp_geo.data import TPCSimDataset
from fm4npp_geo.data.summary import count_tracks
from fm4npp_geo.metrics import TrackingEvaluator
from fm4npp_geo.tasks.protocol import TrackFinder
from fm4npp_geo.training import pretrain_backbone
from fm4npp_geo.transforms import HierarchicalRasterScan, HitFeatures

logger = logging.getLogger(__name__)

PT_BINS = (0.06, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
ETA_BINS = tuple(x / 10 for x in range(-12, 13, 2))


def split_sizes(data_cfg: DictConfig) -> dict[str, int]:
    """Read and check the split sizes ``data.num_{pretrain,train,val,test}``.

    Raises:
        ValueError: a size is not a whole number, or is below its minimum (1 for
            train and test, 0 for pretrain and val).
    """
    minimum = {"pretrain": 0, "train": 1, "val": 0, "test": 1}
    sizes = {}
    for name, low in minimum.items():
        value = data_cfg.get(f"num_{name}")
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"data.num_{name} must be a whole number >= {low}, got {value!r}")
        sizes[name] = value
    return sizes


def split_events(events: Sequence[Data], sizes: dict[str, int]) -> dict[str, list[Data]]:
    """Cut consecutive, disjoint splits of the given sizes, in the given order."""
    needed = sum(sizes.values())
    if needed > len(events):
        raise ValueError(f"splits need {needed} events but only {len(events)} were generated")
    splits, start = {}, 0
    for name, size in sizes.items():
        splits[name] = list(events[start : start + size])
        start += size
    return splits


def machine_description() -> str:
    """Return a one-line description of the CPU and thread count used."""
    processor = platform.processor() or platform.machine()
    return f"{platform.system()} {processor}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def evaluate_tracker(tracker: TrackFinder, events: Sequence[Data], progress: bool, name: str):
    """Predict every test event, time it, and score it with one evaluator."""
    evaluator = TrackingEvaluator()
    predictions = []
    start = time.perf_counter()
    for event in tqdm(events, desc=f"evaluate {name}", disable=not progress, leave=False):
        labels = tracker.predict(event)
        if labels.shape != (event.num_nodes,):
            raise ValueError(
                f"tracker '{name}' returned labels of shape {tuple(labels.shape)} for an event "
                f"with {event.num_nodes} hits; predict() must return one label per hit"
            )
        predictions.append(labels)
    seconds = time.perf_counter() - start
    for event, labels in zip(events, predictions):
        evaluator.update(labels, event.particle_id, event.particle_pt, event.particle_eta)
    return evaluator, predictions, 1000.0 * seconds / max(1, len(events))


def run_benchmark(cfg: DictConfig) -> dict[str, Any]:
    """Run the whole benchmark described by ``cfg`` and write its records.

    Returns the record that is also written to ``<out_dir>/benchmark.json``.
    """
    sizes = split_sizes(cfg.data)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = bool(cfg.progress)
    torch.manual_seed(cfg.seed)

    # 1. Events: generated once and cached under data.root.
    logger.info("loading or simulating %d events under %s", sum(sizes.values()), cfg.data.root)
    dataset = TPCSimDataset(
        root=cfg.data.root,
        num_events=sum(sizes.values()),
        seed=int(cfg.data.seed),
        config=OmegaConf.to_container(cfg.data.simulation, resolve=True) if "simulation" in cfg.data else None,
        num_workers=int(cfg.data.get("num_workers", 1)),
        chunk_size=int(cfg.data.get("chunk_size", 1000)),
        progress=progress,
    )
    events = [dataset[i] for i in range(len(dataset))]
    splits = split_events(events, sizes)

    # 2. Feature and serialization statistics come from pretraining + training events.
    fit_events = splits["pretrain"] + splits["train"]
    features = HitFeatures.fit(fit_events)
    serialization = HierarchicalRasterScan.fit(fit_events)
    for name in splits:
        splits[name] = [serialization(features(event)) for event in splits[name]]

    # 3. Self-supervised pretraining on the unlabeled split.
    pretrain_cfg = OmegaConf.to_container(cfg.pretrain, resolve=True)
    backbone_kwargs = OmegaConf.to_container(cfg.model, resolve=True)
    backbone, pretrain_summary = pretrain_backbone(
        splits["pretrain"] or splits["train"],
        backbone=backbone_kwargs,
        checkpoint=out_dir / "backbone.pt",
        seed=int(cfg.seed),
        progress=progress,
        **pretrain_cfg,
    )
    pretrain_summary.update(
        {"k": pretrain_cfg["k"], "steps": pretrain_cfg["steps"], "num_parameters": backbone.num_parameters()}
    )

    # 4. Every tracker: built from its config, trained on the same labeled events,
    #    scored on the same test events by the same evaluator.
    models: dict[str, dict[str, Any]] = {}
    curves: dict[str, dict[str, dict]] = {}
    display: dict[str, torch.Tensor] = {}
    for name, tracker_cfg in cfg.trackers.items():
        logger.info("training tracker %s", name)
        tracker = instantiate(tracker_cfg)
        if not isinstance(tracker, TrackFinder):
            raise TypeError(f"tracker '{name}' ({type(tracker).__name__}) lacks fit/predict/num_parameters")
        start = time.perf_counter()
        fit_summary = tracker.fit(splits["train"], splits["val"])
        train_seconds = time.perf_counter() - start
        evaluator, predictions, ms_per_event = evaluate_tracker(tracker, splits["test"], progress, name)
        result = evaluator.compute()
        models[name] = {
            **result,
            "num_test_events": len(splits["test"]),
            "train_seconds": train_seconds,
            "inference_ms_per_event": ms_per_event,
            "num_parameters": int(tracker.num_parameters()),
            "fit": {key: value for key, value in (fit_summary or {}).items() if isinstance(value, (int, float))},
        }
        curves[name] = {
            "pt": evaluator.efficiency_curve("pt", PT_BINS),
            "eta": evaluator.efficiency_curve("eta", ETA_BINS),
        }
        if predictions:
            display[name] = predictions[0]

    # 5. Records and plots.
    all_events = [event for split in splits.values() for event in split]
    record = {
        "schema_version": 1,
        "data": {
            "source": "PYTHIA 8 p+p 200 GeV + fm4npp-geo TPC simulation",
            "events": len(all_events),
            "mean_hits_per_event": sum(e.num_nodes for e in all_events) / max(1, len(all_events)),
            "mean_tracks_per_event": sum(count_tracks(e) for e in all_events) / max(1, len(all_events)),
            **{f"num_{name}": len(split) for name, split in splits.items()},
        },
        "pretrain": pretrain_summary,
        "models": models,
        "curves": curves,
        "config": OmegaConf.to_container(cfg, resolve=True),
        "machine": machine_description(),
    }
    write_record(record, out_dir)
    if curves:
        plot_efficiency_curves(curves, out_dir / "efficiency.png")
    if display and splits["test"]:
        plot_event_display(splits["test"][0], display, out_dir / "event_display.png")
    logger.info("wrote %s", out_dir / "benchmark.json")
    return record


__all__ = ["format_table", "run_benchmark"]
