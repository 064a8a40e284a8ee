"""Self-supervised pretraining objectives."""

from fm4npp_geo.pretrain.knnn import KNextNearestNeighbors, KNNNTargets, knnn_targets

__all__ = ["KNNNTargets", "KNextNearestNeighbors", "knnn_targets"]
