"""Per-hit classification metrics for particle identification and noise tagging."""

from __future__ import annotations

import math

import numpy as np

from fm4npp_geo.metrics._inputs import ArrayLike, as_label_array, as_value_array
from fm4npp_geo.metrics.binned import binned_rate

#: Class names of ``pid_label`` and ``noise_label``, in label order.
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "pid_label": ("other", "pion", "kaon", "proton", "electron"),
    "noise_label": ("signal", "noise"),
}


def _labels(pred: ArrayLike, target: ArrayLike, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    pred = as_label_array(pred, "pred")
    target = as_label_array(target, "target")
    if pred.shape != target.shape:
        raise ValueError(f"'pred' has {pred.shape[0]} hits but 'target' has {target.shape[0]}")
    for name, values in (("pred", pred), ("target", target)):
        outside = (values < 0) | (values >= num_classes)
        if outside.any():
            raise ValueError(
                f"'{name}' contains class {int(values[outside][0])}, expected classes 0..{num_classes - 1}"
            )
    return pred, target


def confusion_matrix(pred: ArrayLike, target: ArrayLike, num_classes: int) -> np.ndarray:
    """Count hits by (true class, predicted class).

    Returns:
        int64 array ``[num_classes, num_classes]``; row ``i``, column ``j`` counts
        hits of true class ``i`` predicted as ``j`` (the scikit-learn layout).
    """
    pred, target = _labels(pred, target, num_classes)
    counts = np.bincount(target * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def metrics_from_confusion(confusion: ArrayLike) -> dict[str, float | list[float]]:
    """Compute accuracy and macro precision, recall and F1 from a confusion matrix.

    Per class, precision is true positives over predicted positives, recall true
    positives over true members, and F1 their harmonic mean. A zero denominator
    gives 0. Macro averages run over the classes that occur in the truth or the
    prediction, which is scikit-learn's default (``labels=None``,
    ``zero_division=0``). Accuracy is the trace over the total, 0.0 when empty.

    Returns:
        ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1`` (floats),
        and ``precision``, ``recall``, ``f1``, ``support`` (one entry per class).
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    true_positive = np.diag(confusion)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(predicted), where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros_like(support), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(both), where=both > 0)
    present = (predicted > 0) | (support > 0)
    total = confusion.sum()

    def macro(values: np.ndarray) -> float:
        return float(values[present].mean()) if present.any() else 0.0

    return {
        "accuracy": float(true_positive.sum() / total) if total else 0.0,
        "macro_precision": macro(precision),
        "macro_recall": macro(recall),
        "macro_f1": macro(f1),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "f1": f1.tolist(),
        "support": support.astype(int).tolist(),
    }


def classification_metrics(pred: ArrayLike, target: ArrayLike, num_classes: int) -> dict[str, float | list[float]]:
    """Compute accuracy and macro precision, recall and F1 of per-hit class labels.

    See :func:`metrics_from_confusion` for the definitions.

    Args:
        pred (array [num_hits], int): predicted class per hit.
        target (array [num_hits], int or bool): true class per hit.
        num_classes (int): number of classes; labels must be in 0..num_classes-1.
    """
    return metrics_from_confusion(confusion_matrix(pred, target, num_classes))


class ClassificationEvaluator:
    """Accumulate per-hit classification results over events.

    Accuracy and the macro scores are pooled over all hits of all events. The
    per-event accuracy is also averaged over events, with its standard error.

    Args:
        num_classes (int): number of classes.
        class_names (sequence of str, optional): a name per class, for reports.
    """

    def __init__(self, num_classes: int, class_names: tuple[str, ...] | None = None) -> None:
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"got {len(class_names)} class names for {num_classes} classes")
        self.num_classes = num_classes
        self.class_names = tuple(class_names) if class_names else tuple(str(i) for i in range(num_classes))
        self.confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
        self.event_accuracy: list[float] = []
        self._pt: list[np.ndarray] = []
        self._eta: list[np.ndarray] = []
        self._correct: list[np.ndarray] = []

    def update(
        self,
        pred: ArrayLike,
        target: ArrayLike,
        particle_id: ArrayLike | None = None,
        particle_pt: ArrayLike | None = None,
        particle_eta: ArrayLike | None = None,
    ) -> None:
        """Add one event. The truth ``particle_*`` arrays are per hit, for binned accuracy.

        Binned accuracy uses the hits of particles only (``particle_id != 0``),
        since noise hits have no pT or eta.
        """
        pred, target = _labels(pred, target, self.num_classes)
        self.confusion += confusion_matrix(pred, target, self.num_classes)
        correct = pred == target
        self.event_accuracy.append(float(correct.mean()) if correct.size else 0.0)
        if particle_id is not None and particle_pt is not None and particle_eta is not None:
            real = as_label_array(particle_id, "particle_id") != 0
            self._pt.append(as_value_array(particle_pt, "particle_pt", pred.size)[real])
            self._eta.append(as_value_array(particle_eta, "particle_eta", pred.size)[real])
            self._correct.append(correct[real])

    @property
    def num_events(self) -> int:
        return len(self.event_accuracy)

    def compute(self) -> dict[str, float | list]:
        """Return pooled accuracy and macro scores, the per-event mean accuracy and the confusion matrix."""
        result = metrics_from_confusion(self.confusion)
        accuracy = np.asarray(self.event_accuracy)
        stderr = float(accuracy.std(ddof=1) / math.sqrt(accuracy.size)) if accuracy.size > 1 else 0.0
        return {
            **result,
            "event_accuracy": float(accuracy.mean()) if accuracy.size else 0.0,
            "event_accuracy_stderr": stderr,
            "confusion": self.confusion.tolist(),
            "class_names": list(self.class_names),
            "num_hits": int(self.confusion.sum()),
            "num_events": self.num_events,
        }

    def curve(self, variable: str, bins: ArrayLike) -> dict[str, list[float]]:
        """Bin the accuracy of particle hits in their truth ``"pt"`` or ``"eta"`` (see :func:`binned_rate`)."""
        if variable not in ("pt", "eta"):
            raise ValueError(f"variable must be 'pt' or 'eta', got {variable!r}")
        if len(self._correct) != self.num_events:
            raise ValueError("binned accuracy needs particle_id, particle_pt and particle_eta for every event")
        values = self._pt if variable == "pt" else self._eta
        if not values:
            return binned_rate(np.zeros(0), np.zeros(0, bool), bins)
        return binned_rate(np.concatenate(values), np.concatenate(self._correct), bins)
