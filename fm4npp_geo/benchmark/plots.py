"""Benchmark figures: efficiency curves and an event display."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from torch import Tensor  # noqa: E402
from torch_geometric.data import Data  # noqa: E402

from fm4npp_geo.data.display import plot_event  # noqa: E402


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


def plot_event_display(event: Data, predictions: dict[str, Tensor], path: str | Path) -> Path:
    """Draw one event in x-y and r-z: truth particles and each model's tracks.

    Noise (truth) and unassigned hits (predictions) are grey; see
    :func:`~fm4npp_geo.data.display.plot_event`.
    """
    path = Path(path)
    plot_event(event, predictions, path=path)
    return path
