"""The Exa.TrkX-style track finder: embedding, radius graph, GNN, components."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import Data
from tqdm.auto import tqdm

from baselines.exatrkx.features import (
    DEFAULT_R_SCALE,
    DEFAULT_Z_SCALE,
    edge_features,
    hit_features,
)
from baselines.exatrkx.graph import EdgeCounts, build_radius_graph, count_edges
from baselines.exatrkx.interaction_network import (
    InteractionNetwork,
    train_edge_classifier,
)
from baselines.exatrkx.metric_learning import EmbeddingMLP, train_metric_learning
from baselines.exatrkx.track_building import connected_components
from baselines.exatrkx.truth import edge_truth, truth_edges
from fm4npp_geo.tasks.protocol import UNASSIGNED

logger = logging.getLogger(__name__)

#: Number of edge features written by :func:`edge_features`.
NUM_EDGE_FEATURES = 4


@dataclass
class ExaTrkXPrediction:
    """Everything :meth:`ExaTrkXTracker.predict_with_graph` computes for an event."""

    #: Hit embeddings, shape :math:`(|V|, D)`.
    embedding: Tensor
    #: Candidate graph from the embedding, shape :math:`(2, |E|)`.
    edge_index: Tensor
    #: Edge classifier probabilities, shape :math:`(|E|)`.
    edge_scores: Tensor
    #: Track label of each hit, shape :math:`(|V|)`. It is the hit's connected
    #: component, or ``UNASSIGNED`` (-1) in a component smaller than
    #: ``min_track_size``.
    labels: Tensor
    #: Number of hits whose neighbour list was cut at ``max_num_neighbors``.
    num_capped_hits: int


class ExaTrkXTracker:
    r"""Exa.TrkX-style GNN track finder (Ju et al. 2021, acorn framework).

    The pipeline embeds hits with an :class:`EmbeddingMLP` trained by metric
    learning, joins hits closer than :obj:`radius` in the embedding, scores
    these edges with an :class:`InteractionNetwork`, and labels hits by the
    connected components of the edges scoring above :obj:`edge_score_cut`.
    With the default :obj:`min_track_size` of 1 every hit gets a track label
    >= 0, so noise hits end up in small tracks of their own or attached to a
    track.

    Node features are :math:`(r / r_s, \phi / \pi, z / z_s)` from ``pos`` in
    cm, followed by the first :obj:`num_x_features` columns of ``x`` when that
    is positive. Edge features are the differences in :math:`r`, :math:`\phi`
    and :math:`z` and the embedding distance of the two hits.

    Args:
        r_scale (float): Radial feature scale in cm.
        z_scale (float): Longitudinal feature scale in cm.
        num_x_features (int): Columns of ``data.x`` appended to the node
            features, 0 for none.
        embedding_dim (int): Embedding dimension.
        embedding_hidden (int): Hidden width of the embedding MLP.
        embedding_layers (int): Hidden layers of the embedding MLP.
        metric_learning_epochs (int): Passes over the training events of the
            metric learning stage.
        metric_learning_lr (float): Initial learning rate of metric learning.
        margin (float): Hinge margin in embedding units, also the radius of
            the hard-negative query during training.
        knn_train (int): Hard-negative candidates per hit during training.
        radius (float): Radius of the graph built in the embedding space.
        max_num_neighbors (int): Maximum neighbours per hit in that graph.
        gnn_hidden (int): Hidden width of the Interaction Network.
        gnn_iterations (int): Message-passing iterations.
        gnn_aggregation (str): ``"sum"``, ``"mean"`` or ``"max"``.
        gnn_epochs (int): Passes over the training graphs of the edge
            classifier.
        gnn_lr (float): Initial learning rate of the edge classifier.
        edge_score_cut (float): Edge probability above which an edge is kept
            for track building.
        min_track_size (int): Hits in connected components with fewer hits
            are labeled ``UNASSIGNED`` (-1); 1 keeps every component.
        seed (int): Seed of the weight initialization and the training order.
        device (str): Device of the models, for example ``"cpu"`` or
            ``"cuda"``.
        progress (bool): If set, show progress bars during :meth:`fit`.
    """

    def __init__(
        self,
        r_scale: float = DEFAULT_R_SCALE,
        z_scale: float = DEFAULT_Z_SCALE,
        num_x_features: int = 0,
        embedding_dim: int = 12,
        embedding_hidden: int = 256,
        embedding_layers: int = 4,
        metric_learning_epochs: int = 10,
        metric_learning_lr: float = 1e-3,
        margin: float = 0.1,
        knn_train: int = 20,
        radius: float = 0.1,
        max_num_neighbors: int = 8,
        gnn_hidden: int = 128,
        gnn_iterations: int = 8,
        gnn_aggregation: str = "sum",
        gnn_epochs: int = 6,
        gnn_lr: float = 1e-3,
        edge_score_cut: float = 0.9,
        min_track_size: int = 1,
        seed: int = 0,
        device: str = "cpu",
        progress: bool = False,
    ) -> None:
        if num_x_features < 0:
            raise ValueError(f"Expected 'num_x_features' >= 0, got {num_x_features}")
        if not 0.0 <= edge_score_cut < 1.0:
            raise ValueError(
                f"Expected 'edge_score_cut' in [0, 1), got {edge_score_cut}"
            )
        if min_track_size < 1:
            raise ValueError(f"Expected 'min_track_size' >= 1, got {min_track_size}")
        self.r_scale = r_scale
        self.z_scale = z_scale
        self.num_x_features = num_x_features
        self.metric_learning_epochs = metric_learning_epochs
        self.metric_learning_lr = metric_learning_lr
        self.margin = margin
        self.knn_train = knn_train
        self.radius = radius
        self.max_num_neighbors = max_num_neighbors
        self.gnn_epochs = gnn_epochs
        self.gnn_lr = gnn_lr
        self.edge_score_cut = edge_score_cut
        self.min_track_size = min_track_size
        self.seed = seed
        self.device = torch.device(device)
        self.progress = progress

        node_in = 3 + num_x_features
        # Initialize the weights from the seed without touching the global RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.embedding_model = EmbeddingMLP(
                node_in, embedding_hidden, embedding_layers, embedding_dim
            )
            self.edge_classifier = InteractionNetwork(
                node_in + embedding_dim,
                NUM_EDGE_FEATURES,
                gnn_hidden,
                gnn_iterations,
                aggregation=gnn_aggregation,
            )
        self.embedding_model.to(self.device).eval()
        self.edge_classifier.to(self.device).eval()

    def num_parameters(self) -> int:
        """Return the number of trainable parameters of both networks."""
        models = (self.embedding_model, self.edge_classifier)
        return sum(
            p.numel() for model in models for p in model.parameters() if p.requires_grad
        )

    def fit(
        self,
        train_events: Sequence[Data],
        val_events: Sequence[Data] | None = None,
    ) -> dict[str, float]:
        """Train the embedding, then the edge classifier on its graphs.

        Args:
            train_events (Sequence[Data]): Events with ``pos`` in cm and
                ``particle_id`` (0 for noise), and ``x`` when
                :obj:`num_x_features` is positive.
            val_events (Sequence[Data], optional): Events on which the edge
                efficiency and purity are reported; nothing is tuned on them.

        Returns:
            Final losses, edge efficiency and purity of the graphs and of the
            classifier at its cut, and the seconds spent.
        """
        if len(train_events) == 0:
            raise ValueError("Expected at least one training event, got none")
        start = time.perf_counter()
        inputs = [self._node_inputs(event) for event in train_events]

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            embedding_summary = train_metric_learning(
                self.embedding_model,
                inputs,
                epochs=self.metric_learning_epochs,
                lr=self.metric_learning_lr,
                margin=self.margin,
                knn=self.knn_train,
                seed=self.seed,
                device=self.device,
                progress=self.progress,
            )
            embedding_seconds = time.perf_counter() - start

            graphs = [
                self._build_graph(event)
                for event in tqdm(
                    inputs, desc="graphs", disable=not self.progress
                )
            ]
            graph_counts = _sum_counts(
                count_edges(g.edge_index, g.particle_id, g.true_edge_index)
                for g in graphs
            )
            num_hits = max(sum(g.num_nodes for g in graphs), 1)
            capped_fraction = sum(g.num_capped_hits for g in graphs) / num_hits
            logger.info(
                "Training graphs: edge efficiency %.4f, purity %.4f, %.1f edges "
                "per hit, %.1f%% of hits capped at %d neighbours",
                graph_counts.efficiency,
                graph_counts.purity,
                graph_counts.num_selected / num_hits,
                100.0 * capped_fraction,
                self.max_num_neighbors,
            )

            classifier_summary = train_edge_classifier(
                self.edge_classifier,
                graphs,
                epochs=self.gnn_epochs,
                lr=self.gnn_lr,
                seed=self.seed,
                device=self.device,
                progress=self.progress,
            )

        summary = {
            "metric_learning_loss": embedding_summary["loss"],
            "edge_classifier_loss": classifier_summary["loss"],
            "pos_weight": classifier_summary["pos_weight"],
            "train_graph_efficiency": graph_counts.efficiency,
            "train_graph_purity": graph_counts.purity,
            "train_capped_hit_fraction": capped_fraction,
            "metric_learning_seconds": embedding_seconds,
        }
        if val_events:
            summary.update(self.edge_metrics(val_events, prefix="val_"))
        summary["fit_seconds"] = time.perf_counter() - start
        logger.info("Fit done in %.1f s: %s", summary["fit_seconds"], summary)
        return summary

    @torch.inference_mode()
    def predict_with_graph(self, event: Data) -> ExaTrkXPrediction:
        """Run the whole pipeline on one event and keep its intermediate graph.

        Args:
            event (Data): An event with ``pos`` in cm.

        Returns:
            The embedding, candidate graph, edge scores and hit labels.
        """
        inputs = self._node_inputs(event, with_truth=False)
        graph = self._build_graph(inputs, with_truth=False)

        logits = self.edge_classifier(graph.x, graph.edge_index, graph.edge_attr)
        scores = torch.sigmoid(logits)
        labels = connected_components(
            graph.num_nodes, graph.edge_index, scores, self.edge_score_cut
        )
        if self.min_track_size > 1:
            track_size = torch.bincount(labels)[labels]
            labels[track_size < self.min_track_size] = UNASSIGNED
        return ExaTrkXPrediction(
            embedding=graph.embedding,
            edge_index=graph.edge_index,
            edge_scores=scores,
            labels=labels,
            num_capped_hits=graph.num_capped_hits,
        )

    def predict(self, event: Data) -> Tensor:
        """Return the track label of each hit, ``[num_hits]`` long.

        Labels are >= 0 unless :obj:`min_track_size` is above 1, see
        :class:`ExaTrkXTracker`.
        """
        return self.predict_with_graph(event).labels.cpu()

    def edge_metrics(
        self, events: Sequence[Data], prefix: str = ""
    ) -> dict[str, float]:
        """Measure edge efficiency and purity of the graph and the classifier.

        See :class:`~baselines.exatrkx.graph.EdgeCounts` for the definitions.
        The classifier's edges are those scoring above :obj:`edge_score_cut`.

        Returns:
            ``graph_efficiency``, ``graph_purity``, ``edge_efficiency`` and
            ``edge_purity``, each name preceded by :obj:`prefix`.
        """
        graph_counts, classifier_counts = [], []
        for event in events:
            prediction = self.predict_with_graph(event)
            particle_id = event.particle_id.to(self.device)
            true_edge_index = truth_edges(particle_id, event.pos.to(self.device))
            selected = prediction.edge_scores > self.edge_score_cut
            graph_counts.append(
                count_edges(prediction.edge_index, particle_id, true_edge_index)
            )
            classifier_counts.append(
                count_edges(prediction.edge_index, particle_id, true_edge_index, selected)
            )
        graph = _sum_counts(graph_counts)
        classifier = _sum_counts(classifier_counts)
        return {
            f"{prefix}graph_efficiency": graph.efficiency,
            f"{prefix}graph_purity": graph.purity,
            f"{prefix}edge_efficiency": classifier.efficiency,
            f"{prefix}edge_purity": classifier.purity,
        }

    def _node_inputs(self, event: Data, with_truth: bool = True) -> Data:
        x = hit_features(event, self.r_scale, self.z_scale)
        if self.num_x_features > 0:
            event_x = getattr(event, "x", None)
            if event_x is None or event_x.size(-1) < self.num_x_features:
                raise ValueError(
                    f"Expected 'x' with at least {self.num_x_features} columns "
                    f"because num_x_features={self.num_x_features}, got "
                    f"{None if event_x is None else list(event_x.shape)}"
                )
            x = torch.cat([x, event_x[:, : self.num_x_features].float()], dim=1)

        inputs = Data(x=x.to(self.device), pos=event.pos.float().to(self.device))
        if with_truth:
            if getattr(event, "particle_id", None) is None:
                raise ValueError("Expected training events with 'particle_id'")
            inputs.particle_id = event.particle_id.to(self.device)
        return inputs

    @torch.no_grad()
    def _build_graph(self, inputs: Data, with_truth: bool = True) -> Data:
        embedding = self.embedding_model(inputs.x)
        graph = build_radius_graph(
            embedding, self.radius, self.max_num_neighbors, pos=inputs.pos
        )
        edge_attr = edge_features(
            inputs.pos, embedding, graph.edge_index, self.r_scale, self.z_scale
        )
        data = Data(
            x=torch.cat([inputs.x, embedding], dim=1),
            edge_index=graph.edge_index,
            edge_attr=edge_attr,
            embedding=embedding,
            num_capped_hits=graph.num_capped_hits,
        )
        if with_truth:
            data.particle_id = inputs.particle_id
            data.true_edge_index = truth_edges(inputs.particle_id, inputs.pos)
            data.edge_y = edge_truth(graph.edge_index, inputs.particle_id)
        return data


def _sum_counts(counts) -> EdgeCounts:
    total = EdgeCounts(0, 0, 0, 0)
    for count in counts:
        total = total + count
    return total
