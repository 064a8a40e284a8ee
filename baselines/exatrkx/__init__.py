"""Exa.TrkX-style GNN track finding (Ju et al. 2021, acorn framework).

One module per stage: :mod:`~baselines.exatrkx.features` (hit and edge
features), :mod:`~baselines.exatrkx.truth` (truth edges),
:mod:`~baselines.exatrkx.metric_learning` (hit embedding),
:mod:`~baselines.exatrkx.graph` (radius graph and edge efficiency),
:mod:`~baselines.exatrkx.interaction_network` (edge classifier),
:mod:`~baselines.exatrkx.track_building` (connected components) and
:mod:`~baselines.exatrkx.pipeline` (the track finder tying them together).
"""

from baselines.exatrkx.features import (
    cylindrical_coordinates,
    edge_features,
    hit_features,
    wrap_angle,
)
from baselines.exatrkx.graph import (
    EdgeCounts,
    RadiusGraph,
    build_radius_graph,
    count_edges,
)
from baselines.exatrkx.interaction_network import (
    InteractionNetwork,
    positive_class_weight,
    train_edge_classifier,
)
from baselines.exatrkx.metric_learning import (
    EmbeddingMLP,
    hinge_loss,
    sample_training_pairs,
    train_metric_learning,
)
from baselines.exatrkx.pipeline import ExaTrkXPrediction, ExaTrkXTracker
from baselines.exatrkx.track_building import connected_components
from baselines.exatrkx.truth import edge_truth, truth_edges

__all__ = [
    "EdgeCounts",
    "EmbeddingMLP",
    "ExaTrkXPrediction",
    "ExaTrkXTracker",
    "InteractionNetwork",
    "RadiusGraph",
    "build_radius_graph",
    "connected_components",
    "count_edges",
    "cylindrical_coordinates",
    "edge_features",
    "edge_truth",
    "hinge_loss",
    "hit_features",
    "positive_class_weight",
    "sample_training_pairs",
    "train_edge_classifier",
    "train_metric_learning",
    "truth_edges",
    "wrap_angle",
]
