"""Train and score every configured model once per seed, and summarize over seeds."""

from __future__ import annotations

import copy
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import Tensor
from torch_geometric.data import Data

from fm4npp_geo.benchmark.evaluation import evaluate_classifier, evaluate_tracker
from fm4npp_geo.benchmark.protocol import PointClassifier
from fm4npp_geo.tasks.protocol import TrackFinder

logger = logging.getLogger(__name__)

#: Config sections that list models, and the kind of model in each.
MODEL_SECTIONS = {"trackers": "tracker", "classifiers": "classifier"}


def read_seeds(cfg: DictConfig) -> list[int]:
    """Return the training seeds: ``seeds`` when set, else ``[seed]``.

    Raises:
        ValueError: ``seeds`` is empty, repeats a seed, or contains a non-integer.
    """
    seeds = cfg.get("seeds")
    if seeds is None:
        return [int(cfg.seed)]
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) for s in seeds) or len(set(seeds)) < len(seeds):
        raise ValueError(f"seeds must be a non-empty list of distinct whole numbers, got {seeds!r}")
    return seeds


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def summarize_seeds(per_seed: Sequence[dict[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    """Return the mean and the sample standard deviation of each metric over seeds.

    Only metrics present as numbers in every seed are summarized. The standard
    deviation uses ``n - 1`` and is 0.0 for a single seed.
    """
    if not per_seed:
        return {}, {}
    keys = [
        key
        for key, value in per_seed[0]["metrics"].items()
        if isinstance(value, (int, float))
        and not isinstance(value, bool)
        and all(isinstance(run["metrics"].get(key), (int, float)) for run in per_seed)
    ]
    mean, std = {}, {}
    for key in keys:
        values = np.array([float(run["metrics"][key]) for run in per_seed])
        mean[key] = float(values.mean())
        std[key] = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return mean, std


@dataclass
class ModelRuns:
    """The runs of one configured model: its record entry and the first seed's predictions."""

    record: dict[str, Any]
    predictions: list[Tensor] = field(default_factory=list)


def _build(cfg: DictConfig, section: str, name: str, seed: int) -> Any:
    """Instantiate model ``name`` of ``section`` with ``seed`` set as the config's ``seed``."""
    run_cfg = copy.deepcopy(cfg)
    OmegaConf.update(run_cfg, "seed", seed, force_add=True)
    seed_everything(seed)
    return instantiate(run_cfg[section][name])


def run_model(
    cfg: DictConfig,
    section: str,
    name: str,
    splits: dict[str, list[Data]],
    seeds: Sequence[int],
    progress: bool = False,
) -> ModelRuns:
    """Train model ``name`` of config section ``section`` once per seed and score each run.

    Each run sets the config's ``seed`` (so ``${seed}`` in the model's config
    follows it) and the global generators, builds the model from its
    ``_target_``, trains it on the ``train`` and ``val`` splits, and scores it on
    the ``test`` split.

    Raises:
        TypeError: the built object lacks the protocol of its section.
    """
    kind = MODEL_SECTIONS[section]
    protocol = TrackFinder if kind == "tracker" else PointClassifier
    runs, first_predictions, num_parameters = [], [], None
    for seed in seeds:
        logger.info("training %s %s with seed %d", kind, name, seed)
        model = _build(cfg, section, name, seed)
        if not isinstance(model, protocol):
            raise TypeError(
                f"{kind} '{name}' ({type(model).__name__}) lacks the {protocol.__name__} methods "
                "fit, predict and num_parameters"
            )
        start = time.perf_counter()
        fit_summary = model.fit(splits["train"], splits["val"]) or {}
        train_seconds = time.perf_counter() - start
        if kind == "tracker":
            result, predictions = evaluate_tracker(model, splits["test"], cfg.get("metrics"), name, progress)
        else:
            result, predictions = evaluate_classifier(model, splits["test"], name, progress)
        result["metrics"]["train_seconds"] = train_seconds
        result["seed"] = seed
        result["fit"] = {
            key: float(value)
            for key, value in fit_summary.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        }
        runs.append(result)
        num_parameters = int(model.num_parameters())
        if not first_predictions:
            first_predictions = predictions

    mean, std = summarize_seeds(runs)
    record = {
        "kind": kind,
        "task": "tracking" if kind == "tracker" else model.target,
        "target": cfg[section][name].get("_target_"),
        "num_parameters": num_parameters,
        "num_test_events": len(splits["test"]),
        "seeds": list(seeds),
        "mean": mean,
        "std": std,
        "per_seed": runs,
    }
    return ModelRuns(record, first_predictions)


def run_all_models(
    cfg: DictConfig,
    splits: dict[str, list[Data]],
    seeds: Sequence[int],
    progress: bool = False,
) -> dict[str, ModelRuns]:
    """Run every model under ``trackers`` and ``classifiers``, in config order.

    Raises:
        ValueError: two sections use the same model name.
    """
    results: dict[str, ModelRuns] = {}
    for section in MODEL_SECTIONS:
        for name in (cfg.get(section) or {}).keys():
            if name in results:
                raise ValueError(f"model name '{name}' is used in both 'trackers' and 'classifiers'; rename one")
            results[name] = run_model(cfg, section, name, splits, seeds, progress)
    return results
