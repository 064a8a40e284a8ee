"""Tracking, edge and classification metrics: pure functions on per-hit labels, and evaluators."""

from fm4npp_geo.metrics.assignment import AssignmentTables, build_tables
from fm4npp_geo.metrics.binned import binned_mean, binned_rate
from fm4npp_geo.metrics.classification import (
    CLASS_NAMES,
    ClassificationEvaluator,
    classification_metrics,
    confusion_matrix,
    metrics_from_confusion,
)
from fm4npp_geo.metrics.edges import edge_efficiency_purity, true_edges
from fm4npp_geo.metrics.evaluator import PARTICLE_CURVES, TRACK_CURVES, TrackingEvaluator
from fm4npp_geo.metrics.matching import match_fm4npp, match_majority
from fm4npp_geo.metrics.trackml import event_trackml_weights, trackml_score, trackml_weights
from fm4npp_geo.metrics.tracking import (
    UNASSIGNED,
    TrackMatch,
    adjusted_rand_index,
    double_majority,
    fm4npp_efficiency_purity,
    match_tracks,
)
from fm4npp_geo.metrics.truth import ParticleTruth, ReconstructableRule

__all__ = [
    "AssignmentTables",
    "CLASS_NAMES",
    "ClassificationEvaluator",
    "PARTICLE_CURVES",
    "ParticleTruth",
    "ReconstructableRule",
    "TRACK_CURVES",
    "TrackMatch",
    "TrackingEvaluator",
    "UNASSIGNED",
    "adjusted_rand_index",
    "binned_mean",
    "binned_rate",
    "build_tables",
    "classification_metrics",
    "confusion_matrix",
    "double_majority",
    "edge_efficiency_purity",
    "event_trackml_weights",
    "fm4npp_efficiency_purity",
    "match_fm4npp",
    "match_majority",
    "match_tracks",
    "metrics_from_confusion",
    "trackml_score",
    "trackml_weights",
    "true_edges",
]
