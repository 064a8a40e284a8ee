"""Options of the Exa.TrkX-style track finder, one typed field each."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from baselines.exatrkx.features import DEFAULT_R_SCALE, DEFAULT_Z_SCALE
from baselines.exatrkx.graph import BACKENDS
from baselines.exatrkx.interaction_network import AGGREGATIONS
from baselines.exatrkx.targets import TargetRule
from baselines.exatrkx.truth import ORDER_RULES

#: Track building methods of :class:`ExaTrkXConfig`.
TRACK_BUILDING = ("components", "walkthrough")


@dataclass
class ExaTrkXConfig:
    """Options of :class:`~baselines.exatrkx.ExaTrkXTracker`.

    Sizes follow the public Exa.TrkX / acorn configurations where they apply
    (12-dimensional embedding, Interaction Network of width 128 with 8
    shared-weight iterations). Epoch counts are sized for a few hundred
    training events.

    Args:
        r_scale (float): Radial feature scale in cm.
        z_scale (float): Longitudinal feature scale in cm.
        num_x_features (int): Columns of ``data.x`` appended to the node
            features, 0 for none.
        order_rule (str): How a particle's hits are ordered for the truth
            edges, see :func:`~baselines.exatrkx.truth.track_order`.
        magnetic_field (float): Solenoid field in tesla, used by the
            ``"helix"`` order rule.
        target_min_pt (float): Target particles need this transverse
            momentum in GeV.
        target_min_hits (int): Target particles need this many hits.
        target_min_layers (int): Target particles need hits on this many
            distinct layers, 0 for no cut.
        target_primary_only (bool): Only primary particles are targets.
        non_target_weight (float): Loss weight of true pairs and edges of
            non-target particles in metric learning and the GNN.
        embedding_dim (int): Embedding dimension.
        embedding_hidden (int): Hidden width of the embedding MLP.
        embedding_layers (int): Hidden layers of the embedding MLP.
        metric_learning_epochs (int): Passes over the training events.
        metric_learning_lr (float): Initial learning rate of metric learning.
        margin (float): Hinge margin in embedding units, also the radius of
            the hard-negative query during training.
        knn_train (int): Hard-negative candidates per hit during training.
        random_pairs_per_hit (float): Random pairs per hit in a training step.
        metric_learning_positive_weight (float): Weight of the positive term
            of the hinge loss.
        radius (float): Radius of the graph built in the embedding space.
        max_num_neighbors (int): Maximum neighbours per hit in that graph.
        graph_backend (str): Neighbour search, see
            :func:`~baselines.exatrkx.graph.build_radius_graph`.
        use_filter (bool): If set, a filter MLP removes edges before the GNN.
        filter_hidden (int): Hidden width of the filter MLP.
        filter_layers (int): Hidden layers of the filter MLP.
        filter_epochs (int): Passes over the training graphs of the filter.
        filter_lr (float): Initial learning rate of the filter.
        filter_negative_ratio (float): False edges per true edge in a filter
            training step.
        filter_hard_fraction (float): Share of those false edges that are the
            currently hardest ones.
        filter_pos_weight (float): Weight of true edges in the filter loss.
        filter_cut (float): Filter probability an edge must exceed to reach
            the GNN.
        gnn_hidden (int): Hidden width of the Interaction Network.
        gnn_iterations (int): Message-passing iterations.
        gnn_layers (int): Layers of each MLP in the Interaction Network.
        gnn_aggregation (str): ``"sum"``, ``"mean"`` or ``"max"``.
        gnn_epochs (int): Passes over the training graphs of the GNN.
        gnn_lr (float): Initial learning rate of the GNN.
        gnn_pos_weight (float, optional): Weight of true edges in the GNN
            loss; by default the ratio of false to true training edges.
        gnn_loss_all_iterations (bool): If set, the GNN loss averages the
            outputs of every iteration.
        gnn_undirected (bool): If set, the GNN gets every edge in both
            directions and an edge's score is the mean of the two.
        edge_score_cut (float): GNN probability above which an edge is kept
            for track building.
        track_building (str): ``"components"`` (connected components) or
            ``"walkthrough"``.
        walkthrough_add_cut (float): Score a walkthrough branch other than a
            hit's best edge must exceed.
        min_track_size (int): Hits of tracks with fewer hits are labeled
            ``UNASSIGNED`` (-1); 1 keeps every track.
        seed (int): Seed of the weight initialization and the training order.
        device (str): Device of the models, for example ``"cpu"``.
        progress (bool): If set, show progress bars during training.
        checkpoint_dir (str, optional): If set, :meth:`fit` writes each
            stage's checkpoint into this folder.
    """

    r_scale: float = DEFAULT_R_SCALE
    z_scale: float = DEFAULT_Z_SCALE
    num_x_features: int = 0
    order_rule: str = "auto"
    magnetic_field: float = 1.4
    target_min_pt: float = 0.0
    target_min_hits: int = 3
    target_min_layers: int = 0
    target_primary_only: bool = False
    non_target_weight: float = 1.0
    embedding_dim: int = 12
    embedding_hidden: int = 256
    embedding_layers: int = 4
    metric_learning_epochs: int = 10
    metric_learning_lr: float = 1e-3
    margin: float = 0.1
    knn_train: int = 20
    random_pairs_per_hit: float = 2.0
    metric_learning_positive_weight: float = 2.0
    radius: float = 0.1
    max_num_neighbors: int = 16
    graph_backend: str = "auto"
    use_filter: bool = True
    filter_hidden: int = 128
    filter_layers: int = 3
    filter_epochs: int = 4
    filter_lr: float = 1e-3
    filter_negative_ratio: float = 3.0
    filter_hard_fraction: float = 0.5
    filter_pos_weight: float = 1.0
    filter_cut: float = 0.05
    gnn_hidden: int = 128
    gnn_iterations: int = 8
    gnn_layers: int = 2
    gnn_aggregation: str = "sum"
    gnn_epochs: int = 6
    gnn_lr: float = 1e-3
    gnn_pos_weight: float | None = None
    gnn_loss_all_iterations: bool = False
    gnn_undirected: bool = False
    edge_score_cut: float = 0.5
    track_building: str = "walkthrough"
    walkthrough_add_cut: float = 0.9
    min_track_size: int = 1
    seed: int = 0
    device: str = "cpu"
    progress: bool = False
    checkpoint_dir: str | None = None

    def __post_init__(self) -> None:
        choices = {
            "order_rule": ORDER_RULES,
            "graph_backend": BACKENDS,
            "gnn_aggregation": AGGREGATIONS,
            "track_building": TRACK_BUILDING,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"Expected '{name}' in {allowed}, got '{getattr(self, name)}'"
                )
        if self.num_x_features < 0:
            raise ValueError(
                f"Expected 'num_x_features' >= 0, got {self.num_x_features}"
            )
        for name in ("edge_score_cut", "filter_cut"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(
                    f"Expected '{name}' in [0, 1), got {getattr(self, name)}"
                )
        if not self.edge_score_cut <= self.walkthrough_add_cut <= 1.0:
            raise ValueError(
                f"Expected 'walkthrough_add_cut' in [edge_score_cut, 1], got "
                f"{self.walkthrough_add_cut} with edge_score_cut="
                f"{self.edge_score_cut}"
            )
        if self.min_track_size < 1:
            raise ValueError(
                f"Expected 'min_track_size' >= 1, got {self.min_track_size}"
            )
        if self.non_target_weight < 0:
            raise ValueError(
                f"Expected 'non_target_weight' >= 0, got {self.non_target_weight}"
            )
        self.target_rule()

    def target_rule(self) -> TargetRule:
        """Return the :class:`TargetRule` of the ``target_*`` options."""
        return TargetRule(
            min_pt=self.target_min_pt,
            min_hits=self.target_min_hits,
            min_layers=self.target_min_layers,
            primary_only=self.target_primary_only,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the options as a plain dictionary, for checkpoints."""
        return dataclasses.asdict(self)
