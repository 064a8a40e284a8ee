"""Exa.TrkX-style GNN track finding (Ju et al. 2021, acorn framework).

One module per stage: :mod:`~baselines.exatrkx.features` (hit and edge
features), :mod:`~baselines.exatrkx.truth` (truth edges and the order of hits
along a track), :mod:`~baselines.exatrkx.targets` (target particles),
:mod:`~baselines.exatrkx.metric_learning` (hit embedding),
:mod:`~baselines.exatrkx.graph` (radius graph),
:mod:`~baselines.exatrkx.filter` (hit-pair filter),
:mod:`~baselines.exatrkx.interaction_network` (edge classifier),
:mod:`~baselines.exatrkx.track_building` (connected components and
walkthrough), :mod:`~baselines.exatrkx.edge_counts` (edge efficiency and
purity) and :mod:`~baselines.exatrkx.pipeline` (the track finder, configured
by :mod:`~baselines.exatrkx.config`, wiring the stages with
:mod:`~baselines.exatrkx.stages` and returning the
:mod:`~baselines.exatrkx.prediction` of each event).
"""

from baselines.exatrkx.config import ExaTrkXConfig
from baselines.exatrkx.edge_counts import EdgeCounts, count_edges
from baselines.exatrkx.features import (
    cylindrical_coordinates,
    edge_features,
    hit_features,
    wrap_angle,
)
from baselines.exatrkx.filter import FilterMLP, sample_filter_edges, train_filter
from baselines.exatrkx.graph import RadiusGraph, build_radius_graph
from baselines.exatrkx.interaction_network import (
    InteractionNetwork,
    average_reverse_scores,
    positive_class_weight,
    train_edge_classifier,
)
from baselines.exatrkx.metric_learning import (
    EmbeddingMLP,
    hinge_loss,
    pair_weights,
    sample_training_pairs,
    train_metric_learning,
)
from baselines.exatrkx.pipeline import ExaTrkXTracker
from baselines.exatrkx.prediction import ExaTrkXPrediction, StageMetrics
from baselines.exatrkx.targets import TargetRule
from baselines.exatrkx.track_building import connected_components, walkthrough
from baselines.exatrkx.truth import edge_truth, track_order, truth_edges

__all__ = [
    "EdgeCounts",
    "EmbeddingMLP",
    "ExaTrkXConfig",
    "ExaTrkXPrediction",
    "ExaTrkXTracker",
    "FilterMLP",
    "InteractionNetwork",
    "RadiusGraph",
    "StageMetrics",
    "TargetRule",
    "average_reverse_scores",
    "build_radius_graph",
    "connected_components",
    "count_edges",
    "cylindrical_coordinates",
    "edge_features",
    "edge_truth",
    "hinge_loss",
    "hit_features",
    "pair_weights",
    "positive_class_weight",
    "sample_filter_edges",
    "sample_training_pairs",
    "track_order",
    "train_edge_classifier",
    "train_filter",
    "train_metric_learning",
    "truth_edges",
    "walkthrough",
]
