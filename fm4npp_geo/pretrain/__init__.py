"""Self-supervised pretraining objectives."""

from fm4npp_geo.pretrain.knnn import KNNNObjective, KNNNTargets, knnn_targets

__all__ = ["KNNNObjective", "KNNNTargets", "knnn_targets"]
