"""Accumulate tracking metrics over many events."""

from __future__ import annotations

import math

import numpy as np

from fm4npp_geo.metrics._inputs import ArrayLike, as_label_array
from fm4npp_geo.metrics.tracking import UNASSIGNED, adjusted_rand_index, match_tracks


def _standard_error(values: np.ndarray) -> float:
    if values.size < 2:
        return 0.0
    return float(values.std(ddof=1) / math.sqrt(values.size))


class TrackingEvaluator:
    """Collect per-event tracking results and report pooled numbers.

    ARI is computed per event and averaged over events. Efficiency and purity are
    pooled: found truth tracks over all truth tracks, and the mean majority
    fraction over all predicted tracks of all events, so that events without truth
    or predicted tracks neither bias nor break the averages.

    Args:
        min_truth_hits (int): hits a particle needs to count as a truth track.
        min_track_hits (int): hits a predicted track needs to be considered.
        unassigned (int, optional): label of hits in no predicted track.
    """

    def __init__(
        self,
        min_truth_hits: int = 3,
        min_track_hits: int = 4,
        unassigned: int | None = UNASSIGNED,
    ) -> None:
        self.min_truth_hits = min_truth_hits
        self.min_track_hits = min_track_hits
        self.unassigned = unassigned
        self.ari: list[float] = []
        self.num_truth = 0
        self.num_found = 0
        self.majority_fractions: list[np.ndarray] = []
        self.truth_pt: list[np.ndarray] = []
        self.truth_eta: list[np.ndarray] = []
        self.truth_found: list[np.ndarray] = []

    def update(
        self,
        track_id: ArrayLike,
        particle_id: ArrayLike,
        particle_pt: ArrayLike | None = None,
        particle_eta: ArrayLike | None = None,
    ) -> None:
        """Add one event. ``particle_pt``/``particle_eta`` are per hit, for binned curves."""
        self.ari.append(adjusted_rand_index(track_id, particle_id, self.unassigned))
        match = match_tracks(
            track_id, particle_id, self.min_truth_hits, self.min_track_hits, self.unassigned
        )
        self.num_truth += match.num_truth
        self.num_found += match.num_found
        self.majority_fractions.append(match.track_majority_fraction)
        self.truth_found.append(match.truth_found)

        if particle_pt is not None and particle_eta is not None:
            particle = as_label_array(particle_id, "particle_id")
            pt = np.asarray(particle_pt, dtype=np.float64).reshape(-1)
            eta = np.asarray(particle_eta, dtype=np.float64).reshape(-1)
            # Every hit of a particle carries the same kinematics, so the first hit
            # of each truth particle gives its pT and eta.
            _, first_hit = np.unique(particle, return_index=True)
            by_particle = dict(zip(particle[first_hit].tolist(), first_hit.tolist()))
            rows = np.array([by_particle[p] for p in match.truth_particle.tolist()], dtype=np.int64)
            self.truth_pt.append(pt[rows] if rows.size else np.zeros(0))
            self.truth_eta.append(eta[rows] if rows.size else np.zeros(0))

    @property
    def num_events(self) -> int:
        return len(self.ari)

    def compute(self) -> dict[str, float]:
        """Return ARI (mean and standard error), pooled efficiency and purity, and counts."""
        ari = np.asarray(self.ari, dtype=np.float64)
        fractions = (
            np.concatenate(self.majority_fractions) if self.majority_fractions else np.zeros(0)
        )
        return {
            "ari": float(ari.mean()) if ari.size else 0.0,
            "ari_stderr": _standard_error(ari),
            "efficiency": self.num_found / self.num_truth if self.num_truth else 0.0,
            "purity": float(fractions.mean()) if fractions.size else 0.0,
            "num_truth_tracks": self.num_truth,
            "num_found_tracks": self.num_found,
            "num_predicted_tracks": int(fractions.size),
            "num_events": self.num_events,
        }

    def efficiency_curve(self, variable: str, bins: ArrayLike) -> dict[str, list[float]]:
        """Bin the efficiency in truth ``"pt"`` or ``"eta"``, with binomial errors.

        Returns bin edges, efficiency per bin, its binomial standard error
        sqrt(eff (1 - eff) / n) and the count of truth tracks per bin. Empty bins
        have efficiency and error 0.
        """
        if variable not in ("pt", "eta"):
            raise ValueError(f"variable must be 'pt' or 'eta', got {variable!r}")
        values_list = self.truth_pt if variable == "pt" else self.truth_eta
        if len(values_list) != len(self.truth_found):
            raise ValueError(
                "efficiency curves need particle_pt and particle_eta passed to update() "
                "for every event"
            )
        edges = np.asarray(bins, dtype=np.float64)
        values = np.concatenate(values_list) if values_list else np.zeros(0)
        found = np.concatenate(self.truth_found) if self.truth_found else np.zeros(0, bool)
        index = np.digitize(values, edges) - 1
        inside = (index >= 0) & (index < edges.size - 1)
        total = np.bincount(index[inside], minlength=edges.size - 1).astype(np.float64)
        passed = np.bincount(index[inside], weights=found[inside], minlength=edges.size - 1)
        efficiency = np.divide(passed, total, out=np.zeros_like(total), where=total > 0)
        error = np.sqrt(
            np.divide(efficiency * (1 - efficiency), total, out=np.zeros_like(total), where=total > 0)
        )
        return {
            "edges": edges.tolist(),
            "efficiency": efficiency.tolist(),
            "error": error.tolist(),
            "count": total.astype(int).tolist(),
        }
