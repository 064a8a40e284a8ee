"""Score one trained model on the test events: predictions, timing and metrics."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor
from torch_geometric.data import Data
from tqdm.auto import tqdm

from fm4npp_geo.benchmark.protocol import CLASSIFIER_TARGETS, PointClassifier
from fm4npp_geo.metrics import CLASS_NAMES, ClassificationEvaluator, ReconstructableRule, TrackingEvaluator
from fm4npp_geo.tasks.protocol import TrackFinder

logger = logging.getLogger(__name__)

#: Bin edges of the curves: truth pT in GeV and pseudorapidity.
PT_BINS = (0.06, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
ETA_BINS = tuple(x / 10 for x in range(-12, 13, 2))
#: Tracking metrics binned for the plots and the record.
TRACKING_CURVES = ("efficiency", "dm_efficiency", "dm_fake_rate", "purity")


def make_tracking_evaluator(metrics_cfg: Mapping[str, Any] | None) -> TrackingEvaluator:
    """Build the evaluator every tracker is scored with from the ``metrics`` config.

    ``reconstructable.max_abs_eta: null`` means no eta cut.
    """
    if isinstance(metrics_cfg, DictConfig):
        metrics_cfg = OmegaConf.to_container(metrics_cfg, resolve=True)
    settings = dict(metrics_cfg or {})
    rule = dict(settings.pop("reconstructable", None) or {})
    if rule.get("max_abs_eta") is None:
        rule["max_abs_eta"] = math.inf
    return TrackingEvaluator(rule=ReconstructableRule(**rule), **settings)


def _predict_all(model: Any, events: Sequence[Data], name: str, progress: bool) -> tuple[list[Tensor], float]:
    """Predict every event; return the labels and the mean wall time per event in ms."""
    predictions = []
    start = time.perf_counter()
    with torch.no_grad():
        for event in tqdm(events, desc=f"evaluate {name}", disable=not progress, leave=False):
            labels = model.predict(event)
            if not isinstance(labels, Tensor) or labels.shape != (event.num_nodes,):
                shape = tuple(labels.shape) if isinstance(labels, Tensor) else type(labels).__name__
                raise ValueError(
                    f"model '{name}' returned {shape} for an event with {event.num_nodes} hits; "
                    "predict() must return a tensor with one label per hit"
                )
            predictions.append(labels.detach().cpu().long())
    seconds = time.perf_counter() - start
    return predictions, 1000.0 * seconds / max(1, len(events))


def extra_metrics(model: Any, events: Sequence[Data], name: str) -> dict[str, float]:
    """Return the model's own ``extra_metrics(events)`` numbers, or nothing when it has none.

    Values that are not finite numbers are dropped with a warning, so that the
    record stays valid JSON.
    """
    method = getattr(model, "extra_metrics", None)
    if method is None:
        return {}
    result = {}
    for key, value in dict(method(events)).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            logger.warning("model '%s': extra metric %s=%r is not a finite number; dropped", name, key, value)
            continue
        result[str(key)] = float(value)
    return result


def evaluate_tracker(
    tracker: TrackFinder,
    events: Sequence[Data],
    metrics_cfg: Mapping[str, Any] | None,
    name: str,
    progress: bool = False,
) -> tuple[dict[str, Any], list[Tensor]]:
    """Predict and score the test events with one tracker.

    Returns:
        The seed's result and the predicted labels of each event. The result has
        ``metrics`` (every tracking metric, the tracker's extra metrics and
        ``inference_ms_per_event``), ``curves`` and ``ari_per_event``.
    """
    predictions, ms_per_event = _predict_all(tracker, events, name, progress)
    evaluator = make_tracking_evaluator(metrics_cfg)
    for event, labels in zip(events, predictions):
        evaluator.update_event(event, labels)
    metrics = {**evaluator.compute(), **extra_metrics(tracker, events, name)}
    metrics["inference_ms_per_event"] = ms_per_event
    curves = {
        metric: {
            "pt": evaluator.curve(metric, "pt", PT_BINS),
            "eta": evaluator.curve(metric, "eta", ETA_BINS),
        }
        for metric in TRACKING_CURVES
    }
    return {"metrics": metrics, "curves": curves, "ari_per_event": evaluator.ari_per_event}, predictions


def evaluate_classifier(
    classifier: PointClassifier,
    events: Sequence[Data],
    name: str,
    progress: bool = False,
) -> tuple[dict[str, Any], list[Tensor]]:
    """Predict and score the test events with one per-hit classifier.

    Returns:
        The seed's result and the predicted labels. The result has ``metrics``
        (accuracy, macro precision, recall and F1, the per-event accuracy and
        ``inference_ms_per_event``), ``confusion``, ``class_names``, ``per_class``
        and ``curves`` of the accuracy on particle hits.
    """
    target = getattr(classifier, "target", None)
    if target not in CLASSIFIER_TARGETS:
        raise ValueError(f"classifier '{name}' has target {target!r}; expected one of {sorted(CLASSIFIER_TARGETS)}")
    predictions, ms_per_event = _predict_all(classifier, events, name, progress)
    evaluator = ClassificationEvaluator(CLASSIFIER_TARGETS[target], CLASS_NAMES[target])
    for event, labels in zip(events, predictions):
        evaluator.update(labels, event[target].long(), event.particle_id, event.particle_pt, event.particle_eta)
    result = evaluator.compute()
    metrics = {key: value for key, value in result.items() if isinstance(value, (int, float))}
    metrics.update(extra_metrics(classifier, events, name))
    metrics["inference_ms_per_event"] = ms_per_event
    curves = {"accuracy": {"pt": evaluator.curve("pt", PT_BINS), "eta": evaluator.curve("eta", ETA_BINS)}}
    per_class = {key: result[key] for key in ("precision", "recall", "f1", "support")}
    return {
        "metrics": metrics,
        "confusion": result["confusion"],
        "class_names": result["class_names"],
        "per_class": per_class,
        "curves": curves,
    }, predictions
