"""The head-to-head benchmark: load events, pretrain, train every model per seed, evaluate, report."""

from __future__ import annotations

import logging
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from fm4npp_geo.benchmark.data import SOURCES, data_source, load_events, split_events, split_sizes
from fm4npp_geo.benchmark.plots import (
    plot_ari_histogram,
    plot_confusion_matrices,
    plot_cost,
    plot_efficiency_curves,
    plot_event_display,
)
from fm4npp_geo.benchmark.report import format_table, write_record
from fm4npp_geo.benchmark.runs import ModelRuns, read_seeds, run_all_models, seed_everything
from fm4npp_geo.benchmark.schema import SCHEMA_VERSION
from fm4npp_geo.data.summary import count_tracks
from fm4npp_geo.training import pretrain_backbone
from fm4npp_geo.transforms import HierarchicalRasterScan, HitFeatures

logger = logging.getLogger(__name__)


def _section(cfg: DictConfig, key: str) -> dict[str, Any]:
    """Return config section ``key`` as a plain dict, empty when absent or null."""
    value = cfg.get(key)
    return OmegaConf.to_container(value, resolve=True) if value is not None else {}


def machine_description() -> str:
    """Return a one-line description of the CPU and thread count used."""
    processor = platform.processor() or platform.machine()
    return f"{platform.system()} {processor}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def write_figures(runs: dict[str, ModelRuns], test_events: list, out_dir: Path) -> list[str]:
    """Draw the figures of the first seed of every model; return their file names."""
    records = {name: run.record for name, run in runs.items()}
    trackers = {name: record for name, record in records.items() if record["kind"] == "tracker"}
    classifiers = {name: record for name, record in records.items() if record["kind"] == "classifier"}
    written = []
    if trackers:
        first = {name: record["per_seed"][0] for name, record in trackers.items()}
        for metric, file, label in (
            ("efficiency", "efficiency.png", "tracking efficiency (FM4NPP)"),
            ("dm_efficiency", "efficiency_double_majority.png", "tracking efficiency (double majority)"),
        ):
            curves = {name: run["curves"][metric] for name, run in first.items()}
            written.append(plot_efficiency_curves(curves, out_dir / file, label).name)
        ari = {name: run["ari_per_event"] for name, run in first.items()}
        written.append(plot_ari_histogram(ari, out_dir / "ari_histogram.png").name)
    if classifiers:
        confusions = {
            name: (record["per_seed"][0]["confusion"], record["per_seed"][0]["class_names"])
            for name, record in classifiers.items()
        }
        written.append(plot_confusion_matrices(confusions, out_dir / "confusion_matrices.png").name)
    if records:
        parameters = {name: record["num_parameters"] for name, record in records.items()}
        timing = {
            name: (record["mean"]["inference_ms_per_event"], record["std"]["inference_ms_per_event"])
            for name, record in records.items()
        }
        written.append(plot_cost(parameters, timing, out_dir / "cost.png").name)
    display = {name: runs[name].predictions[0] for name in trackers if runs[name].predictions}
    if display and test_events:
        written.append(plot_event_display(test_events[0], display, out_dir / "event_display.png").name)
    return written


def run_benchmark(cfg: DictConfig) -> dict[str, Any]:
    """Run the whole benchmark described by ``cfg`` and write its records and figures.

    Returns the record that is also written to ``<out_dir>/benchmark.json`` (see
    docs/benchmark.md for its schema).
    """
    started = time.perf_counter()
    sizes = split_sizes(cfg.data)
    source = data_source(cfg.data)
    seeds = read_seeds(cfg)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = bool(cfg.progress)
    seed_everything(int(cfg.seed))

    # 1. Events, cut into disjoint splits.
    events = load_events(cfg.data, sum(sizes.values()), progress)
    splits = split_events(events, sizes)

    # 2. Feature and serialization statistics come from pretraining + training events.
    fit_events = splits["pretrain"] + splits["train"]
    features = HitFeatures.fit(fit_events)
    serialization = HierarchicalRasterScan.fit(fit_events, **_section(cfg, "serialization"))
    for name in splits:
        splits[name] = [serialization(features(event)) for event in splits[name]]

    # 3. Self-supervised pretraining on the unlabeled split, once for all seeds.
    pretrain_cfg = OmegaConf.to_container(cfg.pretrain, resolve=True)
    backbone, pretrain_summary = pretrain_backbone(
        splits["pretrain"] or splits["train"],
        backbone=OmegaConf.to_container(cfg.model, resolve=True),
        checkpoint=out_dir / "backbone.pt",
        seed=int(cfg.seed),
        progress=progress,
        **pretrain_cfg,
    )
    pretrain_summary.update(
        {"k": pretrain_cfg["k"], "steps": pretrain_cfg["steps"], "num_parameters": backbone.num_parameters()}
    )

    # 4. Every model, once per seed: built from its config, trained on the same
    #    labeled events, scored on the same test events by the same evaluator.
    runs = run_all_models(cfg, splits, seeds, progress)

    # 5. Figures, records and the table.
    figures = write_figures(runs, splits["test"], out_dir)
    all_events = [event for split in splits.values() for event in split]
    record = {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": {
            "source": source,
            "description": SOURCES[source],
            "root": str(cfg.data.root),
            "events": len(all_events),
            "mean_hits_per_event": sum(e.num_nodes for e in all_events) / max(1, len(all_events)),
            "mean_tracks_per_event": sum(count_tracks(e) for e in all_events) / max(1, len(all_events)),
            **{f"num_{name}": len(split) for name, split in splits.items()},
        },
        "seeds": seeds,
        "metrics_config": _section(cfg, "metrics"),
        "pretrain": pretrain_summary,
        "models": {name: run.record for name, run in runs.items()},
        "figures": figures,
        "config": OmegaConf.to_container(cfg, resolve=True),
        "machine": machine_description(),
        "total_seconds": time.perf_counter() - started,
    }
    write_record(record, out_dir)
    logger.info("wrote %s", out_dir / "benchmark.json")
    return record


__all__ = ["format_table", "run_benchmark"]
