"""Accumulate every tracking metric over many events, computed in one vectorized pass."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from torch_geometric.data import Data

from fm4npp_geo.metrics._inputs import (
    ArrayLike,
    as_label_array,
    as_value_array,
    check_predicted_labels,
    check_same_length,
    check_truth_labels,
    split_unassigned,
)
from fm4npp_geo.metrics.assignment import AssignmentTables, build_tables
from fm4npp_geo.metrics.binned import binned_mean, binned_rate
from fm4npp_geo.metrics.matching import (
    FM4NPPMatch,
    MajorityMatch,
    adjusted_rand_from_pairs,
    match_fm4npp,
    match_majority,
)
from fm4npp_geo.metrics.trackml import event_trackml_weights, trackml_scores_from_tables
from fm4npp_geo.metrics.tracking import UNASSIGNED, TruthLike, ratio
from fm4npp_geo.metrics.truth import ParticleTruth, ReconstructableRule, as_particle_truth

#: Curves over truth particles, and the particle set each one is binned over.
PARTICLE_CURVES = ("efficiency", "dm_efficiency", "one_way_efficiency", "perfect_efficiency")
#: Curves over predicted tracks, binned in the truth pT or eta of the track's majority particle.
TRACK_CURVES = ("purity", "dm_fake_rate", "dm_duplicate_rate", "one_way_fake_rate", "one_way_duplicate_rate")


def _standard_error(values: np.ndarray) -> float:
    if values.size < 2:
        return 0.0
    return float(values.std(ddof=1) / math.sqrt(values.size))


def _binomial_error(passed: int, total: int) -> float:
    if total == 0:
        return 0.0
    rate = passed / total
    return math.sqrt(rate * (1.0 - rate) / total)


@dataclass(frozen=True)
class _Analysis:
    tables: AssignmentTables
    fm4npp: FM4NPPMatch
    double: MajorityMatch
    one_way: MajorityMatch
    ari: np.ndarray
    trackml: np.ndarray | None
    truth_pt: np.ndarray | None
    truth_eta: np.ndarray | None


class TrackingEvaluator:
    """Collect per-event hit assignments and report every tracking metric.

    :meth:`update` only checks and stores an event; :meth:`compute` scores all
    stored events at once with the rules of :mod:`fm4npp_geo.metrics.matching`:

    - ``ari``: adjusted Rand index per event (truth noise one cluster, each
      unassigned hit its own), averaged over events with its standard error;
      ``ari_pooled`` is the index over all hits of all events as one clustering.
    - ``efficiency`` and ``purity``: the FM4NPP rule, pooled (found truth tracks
      over all truth tracks, mean majority fraction over all predicted tracks).
    - ``dm_*``: double-majority efficiency, fake and duplicate rates;
      ``one_way_*``: the same with the track-side condition only;
      ``perfect_efficiency``: perfectly found reconstructable particles. All pooled.
    - ``trackml_score``: the official TrackML score per event, averaged over
      events; present when every event came with weights.

    Pooled ratios carry binomial standard errors (``*_stderr``). A ratio with a
    zero denominator is 0.0, with a warning.

    Args:
        min_truth_hits (int): FM4NPP truth-track rule, full-event hits.
        min_track_hits (int): FM4NPP predicted tracks considered, hits.
        rule (ReconstructableRule, optional): reconstructable particles for the
            majority-matching efficiencies. (default: at least 3 hits)
        matching_fraction (float): fraction both sides of a majority match exceed.
        majority_min_track_hits (int): hits a track needs for the majority rates.
        unassigned (int, optional): label of hits in no predicted track.
    """

    def __init__(
        self,
        min_truth_hits: int = 3,
        min_track_hits: int = 4,
        rule: ReconstructableRule | None = None,
        matching_fraction: float = 0.5,
        majority_min_track_hits: int = 3,
        unassigned: int | None = UNASSIGNED,
    ) -> None:
        self.min_truth_hits = min_truth_hits
        self.min_track_hits = min_track_hits
        self.rule = rule or ReconstructableRule()
        self.matching_fraction = matching_fraction
        self.majority_min_track_hits = majority_min_track_hits
        self.unassigned = unassigned
        self._tracks: list[np.ndarray] = []
        self._particles: list[np.ndarray] = []
        self._weights: list[np.ndarray | None] = []
        self._truth: list[ParticleTruth] = []
        self._reconstructable: list[np.ndarray] = []

    def update(
        self,
        track_id: ArrayLike,
        particle_id: ArrayLike,
        particle_pt: ArrayLike | None = None,
        particle_eta: ArrayLike | None = None,
        particles: TruthLike = None,
        weight: ArrayLike | None = None,
        layer: ArrayLike | None = None,
    ) -> None:
        """Check and store one event.

        Args:
            track_id (array [num_hits]): predicted track per hit.
            particle_id (array [num_hits]): truth particle per hit, 0 = noise.
            particle_pt, particle_eta (arrays [num_hits], optional): truth
                kinematics per hit, for curves when ``particles`` is not given.
            particles (optional): the event's full truth, a ``ParticleTruth`` or
                the particle table ``data.particles``.
            weight (array [num_hits], optional): TrackML hit weights.
            layer (array [num_hits], optional): hit layers, for a distinct-layer rule.
        """
        track = as_label_array(track_id, "track_id")
        particle = as_label_array(particle_id, "particle_id")
        check_same_length(track, particle)
        check_predicted_labels(track, self.unassigned)
        check_truth_labels(particle)
        if particles is None:
            truth = ParticleTruth.from_hits(particle, particle_pt, particle_eta, layer)
        else:
            truth = as_particle_truth(particle, particles, layer)
        if self._weights and (weight is None) != (self._weights[0] is None):
            raise ValueError("pass TrackML weights for every event or for none")

        self._reconstructable.append(self.rule.select(truth))
        self._tracks.append(split_unassigned(track, self.unassigned))
        self._particles.append(particle)
        self._weights.append(None if weight is None else as_value_array(weight, "weight", particle.size))
        self._truth.append(truth)
        self.__dict__.pop("_analysis", None)

    def update_event(self, event: Data, track_id: ArrayLike) -> None:
        """Store one event, reading its truth, layers and TrackML weights from ``event``.

        The weights are ``event.weight`` when present, else computed by
        :func:`~fm4npp_geo.metrics.trackml.event_trackml_weights`.
        """
        self.update(
            track_id,
            event.particle_id,
            particles=ParticleTruth.from_event(event),
            weight=event_trackml_weights(event),
        )

    @property
    def num_events(self) -> int:
        return len(self._tracks)

    @cached_property
    def _analysis(self) -> _Analysis:
        sizes = np.array([track.size for track in self._tracks], dtype=np.int64)
        truth_sizes = np.array([len(truth) for truth in self._truth], dtype=np.int64)
        events = np.arange(self.num_events)

        def joined(values: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(values).astype(dtype, copy=False) if values else np.zeros(0, dtype)

        def truth_field(name: str) -> np.ndarray | None:
            values = [getattr(truth, name) for truth in self._truth]
            return None if any(value is None for value in values) else joined(values, np.float64)

        weights = None if not self._weights or self._weights[0] is None else joined(self._weights, np.float64)
        tables = build_tables(
            event=np.repeat(events, sizes),
            track=joined(self._tracks, np.int64),
            particle=joined(self._particles, np.int64),
            num_events=self.num_events,
            truth_event=np.repeat(events, truth_sizes),
            truth_particle=joined([truth.particle_id for truth in self._truth], np.int64),
            truth_num_hits=joined([truth.num_hits for truth in self._truth], np.int64),
            weight=weights,
        )
        reconstructable = joined(self._reconstructable, bool)
        fraction, min_hits = self.matching_fraction, self.majority_min_track_hits
        return _Analysis(
            tables=tables,
            fm4npp=match_fm4npp(tables, self.min_truth_hits, self.min_track_hits),
            double=match_majority(tables, reconstructable, fraction, True, min_hits),
            one_way=match_majority(tables, reconstructable, fraction, False, min_hits),
            ari=adjusted_rand_from_pairs(
                tables.hits, tables.pairs_same_both, tables.pairs_same_track, tables.pairs_same_particle
            ),
            trackml=None if weights is None else trackml_scores_from_tables(tables),
            truth_pt=truth_field("pt"),
            truth_eta=truth_field("eta"),
        )

    @property
    def ari_per_event(self) -> list[float]:
        """The adjusted Rand index of each stored event, in update order."""
        return self._analysis.ari.tolist()

    def _majority_results(self, prefix: str, match: MajorityMatch) -> dict[str, float]:
        found, reconstructable = int(match.found.sum()), int(match.reconstructable.sum())
        tracks, matched = int(match.track_considered.sum()), int(match.track_matched.sum())
        duplicates = int(match.track_duplicate.sum())
        no_particles = "no reconstructable particle in the events"
        no_tracks = f"no predicted track with >= {self.majority_min_track_hits} hits in the events"
        return {
            f"{prefix}_efficiency": ratio(found, reconstructable, f"{prefix}_efficiency", no_particles),
            f"{prefix}_efficiency_stderr": _binomial_error(found, reconstructable),
            f"{prefix}_fake_rate": ratio(tracks - matched, tracks, f"{prefix}_fake_rate", no_tracks),
            f"{prefix}_fake_rate_stderr": _binomial_error(tracks - matched, tracks),
            f"{prefix}_duplicate_rate": ratio(duplicates, tracks, f"{prefix}_duplicate_rate", no_tracks),
            f"{prefix}_duplicate_rate_stderr": _binomial_error(duplicates, tracks),
            f"{prefix}_num_tracks": tracks,
            f"{prefix}_num_matched_tracks": matched,
            f"{prefix}_num_found": found,
        }

    def compute(self) -> dict[str, float]:
        """Return every metric over the stored events (see the class docstring)."""
        analysis = self._analysis
        tables, fm4npp = analysis.tables, analysis.fm4npp
        truth_tracks, found = int(fm4npp.truth_track.sum()), int(fm4npp.truth_found.sum())
        fractions = fm4npp.track_fraction[fm4npp.track_considered]
        perfect = int(analysis.double.perfect.sum())
        reconstructable = int(analysis.double.reconstructable.sum())
        pooled_ari = adjusted_rand_from_pairs(
            tables.hits.sum(),
            tables.pairs_same_both.sum(),
            tables.pairs_same_track.sum(),
            tables.pairs_same_particle.sum(),
        )
        results = {
            "ari": float(analysis.ari.mean()) if analysis.ari.size else 0.0,
            "ari_stderr": _standard_error(analysis.ari),
            "ari_pooled": float(pooled_ari),
            "efficiency": ratio(found, truth_tracks, "efficiency", "no truth track in the events"),
            "efficiency_stderr": _binomial_error(found, truth_tracks),
            "purity": ratio(float(fractions.sum()), fractions.size, "purity", "no predicted track in the events"),
            "purity_stderr": _standard_error(fractions),
            **self._majority_results("dm", analysis.double),
            **self._majority_results("one_way", analysis.one_way),
            "perfect_efficiency": ratio(perfect, reconstructable, "perfect_efficiency", "no reconstructable particle"),
            "perfect_efficiency_stderr": _binomial_error(perfect, reconstructable),
            "num_events": self.num_events,
            "num_hits": int(tables.hits.sum()),
            "num_truth_tracks": truth_tracks,
            "num_found_tracks": found,
            "num_predicted_tracks": int(fractions.size),
            "num_reconstructable": reconstructable,
        }
        if analysis.trackml is not None:
            results["trackml_score"] = float(analysis.trackml.mean()) if analysis.trackml.size else 0.0
            results["trackml_score_stderr"] = _standard_error(analysis.trackml)
        return results

    def curve(self, metric: str, variable: str, bins: ArrayLike) -> dict[str, list[float]]:
        """Bin one metric in truth ``"pt"`` (GeV) or ``"eta"``, with binomial errors.

        Efficiencies (``PARTICLE_CURVES``) are binned in the kinematics of the
        truth particles in their denominator. Track rates and purity
        (``TRACK_CURVES``) are binned in the kinematics of each considered track's
        majority particle, so tracks with a noise majority are left out. Returns
        ``edges``, ``rate``, ``error`` and ``count`` as :func:`binned_rate` does.
        """
        if variable not in ("pt", "eta"):
            raise ValueError(f"variable must be 'pt' or 'eta', got {variable!r}")
        if metric not in PARTICLE_CURVES + TRACK_CURVES:
            raise ValueError(f"metric must be one of {PARTICLE_CURVES + TRACK_CURVES}, got {metric!r}")
        analysis = self._analysis
        values = analysis.truth_pt if variable == "pt" else analysis.truth_eta
        if values is None:
            raise ValueError("curves need particle_pt and particle_eta, or a particle table, for every event")

        if metric in PARTICLE_CURVES:
            members, passed = {
                "efficiency": (analysis.fm4npp.truth_track, analysis.fm4npp.truth_found),
                "dm_efficiency": (analysis.double.reconstructable, analysis.double.found),
                "one_way_efficiency": (analysis.one_way.reconstructable, analysis.one_way.found),
                "perfect_efficiency": (analysis.double.reconstructable, analysis.double.perfect),
            }[metric]
            return binned_rate(values[members], passed[members], bins)

        row = analysis.tables.track_truth_row
        if metric == "purity":
            keep = analysis.fm4npp.track_considered & (row >= 0)
            return binned_mean(values[row[keep]], analysis.fm4npp.track_fraction[keep], bins)
        match = analysis.double if metric.startswith("dm_") else analysis.one_way
        keep = match.track_considered & (row >= 0)
        flags = ~match.track_matched if metric.endswith("fake_rate") else match.track_duplicate
        return binned_rate(values[row[keep]], flags[keep], bins)

    def efficiency_curve(self, variable: str, bins: ArrayLike) -> dict[str, list[float]]:
        """Bin the FM4NPP efficiency in truth ``"pt"`` or ``"eta"``; see :meth:`curve`."""
        return self.curve("efficiency", variable, bins)
