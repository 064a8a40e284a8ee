"""Benchmark figures: binned curves, ARI histograms, confusion matrices, cost and an event display.

Every function takes numbers already computed by :mod:`fm4npp_geo.metrics` and
only draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from torch import Tensor  # noqa: E402
from torch_geometric.data import Data  # noqa: E402

from fm4npp_geo.data.display import plot_event  # noqa: E402


def _save(figure: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_efficiency_curves(
    curves: dict[str, dict[str, dict]],
    path: str | Path,
    ylabel: str = "tracking efficiency",
) -> Path:
    """Plot one binned metric vs pT and vs eta for every model on one figure.

    ``curves[model][variable]`` is a curve from
    :meth:`~fm4npp_geo.metrics.TrackingEvaluator.curve` (``edges``, ``rate``,
    ``error``, ``count``); empty bins are skipped.
    """
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, variable, label in ((axes[0], "pt", "truth $p_T$ [GeV]"), (axes[1], "eta", r"truth $\eta$")):
        for model, by_variable in curves.items():
            curve = by_variable[variable]
            edges = np.asarray(curve["edges"])
            centers = 0.5 * (edges[1:] + edges[:-1])
            filled = np.asarray(curve["count"]) > 0
            axis.errorbar(
                centers[filled],
                np.asarray(curve["rate"])[filled],
                yerr=np.asarray(curve["error"])[filled],
                xerr=0.5 * (edges[1:] - edges[:-1])[filled],
                fmt="o",
                markersize=3,
                label=model,
            )
        if variable == "pt":
            axis.set_xscale("log")
        axis.set_xlabel(label)
        axis.set_ylabel(ylabel)
        axis.set_ylim(0, 1.05)
        axis.grid(alpha=0.3)
        axis.legend()
    return _save(figure, path)


def plot_ari_histogram(ari: dict[str, Sequence[float]], path: str | Path) -> Path:
    """Overlay the per-event adjusted Rand index of every model as step histograms."""
    figure, axis = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0.0, 1.0, 41)
    for model, values in ari.items():
        values = np.clip(np.asarray(values, dtype=float), 0.0, 1.0)
        axis.hist(values, bins=bins, histtype="step", linewidth=1.5, label=f"{model} (mean {values.mean():.3f})")
    axis.set_xlabel("adjusted Rand index per event (values below 0 drawn at 0)")
    axis.set_ylabel("events")
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left")
    return _save(figure, path)


def plot_confusion_matrices(confusions: dict[str, tuple[Sequence[Sequence[int]], Sequence[str]]], path: str | Path) -> Path:
    """Draw each classifier's confusion matrix, normalized per true class (rows sum to 1).

    ``confusions[model]`` is ``(matrix, class_names)`` with rows as true classes.
    """
    figure, axes = plt.subplots(1, len(confusions), figsize=(4.5 * len(confusions), 4), squeeze=False)
    for axis, (model, (matrix, names)) in zip(axes[0], confusions.items()):
        counts = np.asarray(matrix, dtype=float)
        rows = counts.sum(axis=1, keepdims=True)
        fractions = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
        axis.imshow(fractions, vmin=0.0, vmax=1.0, cmap="Blues")
        for (row, column), value in np.ndenumerate(fractions):
            colour = "white" if value > 0.6 else "black"
            axis.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=8, color=colour)
        axis.set_xticks(range(len(names)), names, rotation=45)
        axis.set_yticks(range(len(names)), names)
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        axis.set_title(model)
    return _save(figure, path)


def plot_cost(
    num_parameters: dict[str, int],
    inference_ms: dict[str, tuple[float, float]],
    path: str | Path,
) -> Path:
    """Bar charts of trainable parameters and inference time per event (mean and std over seeds)."""
    names = list(num_parameters)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
    left.bar(names, [num_parameters[name] for name in names])
    left.set_yscale("log")
    left.set_ylabel("trainable parameters")
    means = [inference_ms[name][0] for name in names]
    errors = [inference_ms[name][1] for name in names]
    right.bar(names, means, yerr=errors)
    right.set_ylabel("inference ms / event")
    for axis in (left, right):
        axis.tick_params(axis="x", rotation=30)
        axis.grid(alpha=0.3, axis="y")
    return _save(figure, path)


def plot_event_display(event: Data, predictions: dict[str, Tensor], path: str | Path) -> Path:
    """Draw one event in x-y and r-z: truth particles and each model's tracks.

    Noise (truth) and unassigned hits (predictions) are grey; see
    :func:`~fm4npp_geo.data.display.plot_event`.
    """
    path = Path(path)
    plot_event(event, predictions, path=path)
    return path
