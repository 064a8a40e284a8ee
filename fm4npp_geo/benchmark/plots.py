"""Benchmark figures: efficiency curves and an event display."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from torch import Tensor  # noqa: E402
from torch_geometric.data import Data  # noqa: E402


def plot_efficiency_curves(curves: dict[str, dict[str, dict]], path: str | Path) -> Path:
    """Plot efficiency vs pT and vs eta for every model on one figure.

    ``curves[model][variable]`` is the output of
    :meth:`~fm4npp_geo.metrics.TrackingEvaluator.efficiency_curve`.
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
                np.asarray(curve["efficiency"])[filled],
                yerr=np.asarray(curve["error"])[filled],
                xerr=0.5 * (edges[1:] - edges[:-1])[filled],
                fmt="o",
                markersize=3,
                label=model,
            )
        if variable == "pt":
            axis.set_xscale("log")
        axis.set_xlabel(label)
        axis.set_ylabel("tracking efficiency")
        axis.set_ylim(0, 1.05)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _scatter_tracks(axis, pos: np.ndarray, labels: np.ndarray, noise_label: int, title: str) -> None:
    noise = labels == noise_label
    axis.scatter(pos[noise, 0], pos[noise, 1], s=2, c="lightgrey")
    track_labels = labels[~noise]
    _, colour_index = np.unique(track_labels, return_inverse=True)
    axis.scatter(pos[~noise, 0], pos[~noise, 1], s=3, c=colour_index % 20, cmap="tab20")
    axis.set_title(title)
    axis.set_xlabel("x [cm]")
    axis.set_ylabel("y [cm]")
    axis.set_aspect("equal")


def plot_event_display(event: Data, predictions: dict[str, Tensor], path: str | Path) -> Path:
    """Draw the x-y view of one event: truth particles and each model's tracks.

    Noise (truth) and unassigned hits (predictions) are grey.
    """
    pos = event.pos.cpu().numpy()
    panels = [("truth", event.particle_id.cpu().numpy(), 0)]
    panels += [(name, labels.cpu().numpy(), -1) for name, labels in predictions.items()]
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2))
    for axis, (title, labels, noise_label) in zip(np.atleast_1d(axes), panels):
        _scatter_tracks(axis, pos, labels, noise_label, title)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
