"""Tracking metrics: pure functions on per-hit labels, and an evaluator over events."""

from fm4npp_geo.metrics.evaluator import TrackingEvaluator
from fm4npp_geo.metrics.tracking import (
    UNASSIGNED,
    TrackMatch,
    adjusted_rand_index,
    fm4npp_efficiency_purity,
    match_tracks,
)

__all__ = [
    "UNASSIGNED",
    "TrackMatch",
    "TrackingEvaluator",
    "adjusted_rand_index",
    "fm4npp_efficiency_purity",
    "match_tracks",
]
