"""The Exa.TrkX-style track finder: embedding, graph, filter, GNN, tracks."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data
from tqdm.auto import tqdm

from baselines.exatrkx.config import ExaTrkXConfig
from baselines.exatrkx.features import NUM_EDGE_FEATURES
from baselines.exatrkx.filter import FilterMLP, train_filter
from baselines.exatrkx.interaction_network import (
    InteractionNetwork,
    train_edge_classifier,
)
from baselines.exatrkx.metric_learning import EmbeddingMLP, train_metric_learning
from baselines.exatrkx.prediction import ExaTrkXPrediction, StageMetrics
from baselines.exatrkx.stages import (
    candidate_graph,
    count_target_edges,
    event_inputs,
    filter_edges,
    gnn_training_graph,
    score_edges,
)
from baselines.exatrkx.track_building import connected_components, walkthrough
from fm4npp_geo.tasks.protocol import UNASSIGNED
from fm4npp_geo.training.checkpoint import load_checkpoint, save_checkpoint

logger = logging.getLogger(__name__)


class ExaTrkXTracker:
    r"""Exa.TrkX-style GNN track finder (Ju et al. 2021, acorn framework).

    The pipeline embeds hits with an :class:`EmbeddingMLP` trained by metric
    learning, joins hits closer than ``radius`` in the embedding (at most
    ``max_num_neighbors`` per hit), removes most false edges with a
    :class:`FilterMLP`, scores the remaining edges with an
    :class:`InteractionNetwork`, and builds tracks from the edges scoring
    above ``edge_score_cut`` by connected components or a walkthrough.

    Node features are :math:`(r / r_s, \phi / \pi, z / z_s)` from ``pos`` in
    cm, followed by the first ``num_x_features`` columns of ``x`` when that
    is positive. Edge features are the differences in :math:`r`, :math:`\phi`
    and :math:`z` and the embedding distance of the two hits.

    Args:
        **options: Fields of :class:`~baselines.exatrkx.config.ExaTrkXConfig`,
            each a plain keyword argument so that hydra can build the tracker
            from a config ``_target_``.
    """

    def __init__(self, **options) -> None:
        self.config = ExaTrkXConfig(**options)
        config = self.config
        self.target_rule = config.target_rule()
        self.device = torch.device(config.device)

        node_in = 3 + config.num_x_features
        # Initialize the weights from the seed without touching the global RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.embedding_model = EmbeddingMLP(
                node_in,
                config.embedding_hidden,
                config.embedding_layers,
                config.embedding_dim,
            )
            self.filter_model = (
                FilterMLP(
                    node_in + config.embedding_dim,
                    NUM_EDGE_FEATURES,
                    config.filter_hidden,
                    config.filter_layers,
                )
                if config.use_filter
                else None
            )
            self.edge_classifier = InteractionNetwork(
                node_in + config.embedding_dim,
                NUM_EDGE_FEATURES,
                config.gnn_hidden,
                config.gnn_iterations,
                config.gnn_layers,
                config.gnn_aggregation,
            )
        for model in self._models().values():
            model.to(self.device).eval()

    def _models(self) -> dict[str, torch.nn.Module]:
        models = {"metric_learning": self.embedding_model, "gnn": self.edge_classifier}
        if self.filter_model is not None:
            models["filter"] = self.filter_model
        return models

    def num_parameters(self) -> int:
        """Return the number of trainable parameters of all networks."""
        return sum(
            p.numel()
            for model in self._models().values()
            for p in model.parameters()
            if p.requires_grad
        )

    def fit(
        self,
        train_events: Sequence[Data],
        val_events: Sequence[Data] | None = None,
    ) -> dict[str, float]:
        """Train the embedding, then the filter and the GNN on its graphs.

        Each stage is trained on the output of the stages before it. With
        ``checkpoint_dir`` set, each stage's checkpoint is written there.

        Args:
            train_events (Sequence[Data]): Events with ``pos`` in cm and
                ``particle_id`` (0 for noise), ``x`` when ``num_x_features``
                is positive, and the attributes the target rule reads.
            val_events (Sequence[Data], optional): Events on which the edge
                efficiency and purity are reported; nothing is tuned on them.

        Returns:
            Final losses, edge efficiency and purity of each stage on the
            training graphs (and on the validation events), and the seconds
            spent.
        """
        if len(train_events) == 0:
            raise ValueError("Expected at least one training event, got none")
        config = self.config
        start = time.perf_counter()
        inputs = [self._inputs(event) for event in train_events]
        summary: dict[str, float] = {}

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            embedding_summary = train_metric_learning(
                self.embedding_model,
                inputs,
                epochs=config.metric_learning_epochs,
                lr=config.metric_learning_lr,
                margin=config.margin,
                knn=config.knn_train,
                random_pairs_per_hit=config.random_pairs_per_hit,
                positive_weight=config.metric_learning_positive_weight,
                non_target_weight=config.non_target_weight,
                seed=config.seed,
                device=self.device,
                progress=config.progress,
            )
            summary["metric_learning_loss"] = embedding_summary["loss"]
            summary["metric_learning_seconds"] = time.perf_counter() - start

            with torch.no_grad():
                graphs = [
                    candidate_graph(item, self.embedding_model(item.x), config)
                    for item in tqdm(inputs, desc="graphs", disable=not config.progress)
                ]
            summary.update(self._log_counts("graph", graphs))

            if self.filter_model is not None:
                filter_summary = train_filter(
                    self.filter_model,
                    graphs,
                    epochs=config.filter_epochs,
                    lr=config.filter_lr,
                    negative_ratio=config.filter_negative_ratio,
                    hard_fraction=config.filter_hard_fraction,
                    pos_weight=config.filter_pos_weight,
                    seed=config.seed,
                    device=self.device,
                    progress=config.progress,
                )
                summary["filter_loss"] = filter_summary["loss"]
                graphs = [
                    filter_edges(graph, self.filter_model, config.filter_cut)[0]
                    for graph in graphs
                ]
                summary.update(self._log_counts("filter", graphs))

            classifier_summary = train_edge_classifier(
                self.edge_classifier,
                [
                    gnn_training_graph(graph, config.non_target_weight, config.gnn_undirected)
                    for graph in graphs
                ],
                epochs=config.gnn_epochs,
                lr=config.gnn_lr,
                pos_weight=config.gnn_pos_weight,
                loss_all_iterations=config.gnn_loss_all_iterations,
                seed=config.seed,
                device=self.device,
                progress=config.progress,
            )
            summary["edge_classifier_loss"] = classifier_summary["loss"]
            summary["pos_weight"] = classifier_summary["pos_weight"]

        if config.checkpoint_dir is not None:
            self.save(config.checkpoint_dir)
        if val_events:
            summary.update(self.edge_metrics(val_events, prefix="val_"))
        summary["fit_seconds"] = time.perf_counter() - start
        logger.info("Fit done in %.1f s: %s", summary["fit_seconds"], summary)
        return summary

    @torch.inference_mode()
    def predict_with_graph(self, event: Data) -> ExaTrkXPrediction:
        """Run the whole pipeline on one event and keep its intermediate graphs.

        Args:
            event (Data): An event with ``pos`` in cm.

        Returns:
            The embedding, candidate graph, filter and edge scores, hit labels
            and the seconds spent in each stage.
        """
        config = self.config
        seconds = {}
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            seconds[stage] = now - clock
            clock = now

        inputs = self._inputs(event, with_truth=False)
        embedding = self.embedding_model(inputs.x)
        lap("embedding")
        graph = candidate_graph(inputs, embedding, config)
        lap("graph")
        filtered, kept = filter_edges(graph, self.filter_model, config.filter_cut)
        lap("filter")

        scores = torch.zeros(graph.edge_index.size(1), device=self.device)
        if filtered.edge_index.size(1) > 0:
            scores[kept] = score_edges(self.edge_classifier, filtered, config.gnn_undirected)
        lap("gnn")

        order = torch.hypot(inputs.pos[:, 0], inputs.pos[:, 1])
        if config.track_building == "walkthrough":
            labels = walkthrough(
                graph.num_nodes,
                graph.edge_index,
                scores,
                config.edge_score_cut,
                config.walkthrough_add_cut,
                order=order,
            )
        else:
            labels = connected_components(
                graph.num_nodes, graph.edge_index, scores, config.edge_score_cut
            )
        if config.min_track_size > 1 and labels.numel() > 0:
            track_size = torch.bincount(labels)[labels]
            labels[track_size < config.min_track_size] = UNASSIGNED
        lap("track_building")

        return ExaTrkXPrediction(
            embedding=embedding,
            edge_index=graph.edge_index,
            filter_scores=graph.filter_scores,
            edge_scores=scores,
            labels=labels,
            num_capped_hits=graph.num_capped_hits,
            seconds=seconds,
        )

    def predict(self, event: Data) -> Tensor:
        """Return the track label of each hit, ``[num_hits]`` long.

        Labels are >= 0 unless ``min_track_size`` is above 1, see
        :class:`ExaTrkXTracker`.
        """
        return self.predict_with_graph(event).labels.cpu()

    def predict_batch(self, batch: Batch) -> Tensor:
        """Predict every event of a batch on its own.

        Returns:
            The track labels of all hits, ``[batch.num_nodes]`` long, in batch
            order; labels are numbered per event.
        """
        labels = [
            self.predict(batch.get_example(i)) for i in range(batch.num_graphs)
        ]
        if not labels:
            return torch.empty(0, dtype=torch.long)
        return torch.cat(labels)

    def edge_metrics(
        self, events: Sequence[Data], prefix: str = ""
    ) -> dict[str, float]:
        """Measure edge efficiency and purity after each stage, pooled over events.

        See :class:`~baselines.exatrkx.edge_counts.EdgeCounts` for the
        definitions. Truth edges are the consecutive hits of target particles
        (see ``order_rule`` and the ``target_*`` options). The stages are the
        candidate graph (``graph_``), the edges passing the filter
        (``filter_``, also without a filter) and the edges scoring above
        ``edge_score_cut`` (``edge_``).

        Returns:
            Efficiency and purity of each stage, the fraction of hits whose
            neighbour list was capped, and the mean seconds per event of each
            stage, each name preceded by :obj:`prefix`.
        """
        metrics = StageMetrics(self.config.filter_cut, self.config.edge_score_cut)
        for event in events:
            metrics.update(self.predict_with_graph(event), self._inputs(event))
        return metrics.compute(prefix)

    def extra_metrics(self, events: Sequence[Data]) -> dict[str, float]:
        """Return the benchmark record's edge metrics, pooled over :obj:`events`.

        ``edge_efficiency`` and ``edge_purity`` are those of the GNN at its
        cut, ``graph_edge_efficiency`` and ``graph_edge_purity`` those of the
        graph construction, and ``filter_edge_efficiency`` and
        ``filter_edge_purity`` those of the edges passing the filter.
        ``graph_capped_hit_fraction`` is the fraction of hits whose neighbour
        list was cut at ``max_num_neighbors``.
        """
        metrics = self.edge_metrics(events)
        return {
            "edge_efficiency": metrics["edge_efficiency"],
            "edge_purity": metrics["edge_purity"],
            "graph_edge_efficiency": metrics["graph_efficiency"],
            "graph_edge_purity": metrics["graph_purity"],
            "filter_edge_efficiency": metrics["filter_efficiency"],
            "filter_edge_purity": metrics["filter_purity"],
            "graph_capped_hit_fraction": metrics["capped_hit_fraction"],
        }

    def save(self, directory: str | Path) -> list[Path]:
        """Write one checkpoint per stage, ``<stage>.pt``, into :obj:`directory`.

        Each contains the stage's ``state_dict`` and the tracker's options.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        options = self.config.to_dict()
        return [
            save_checkpoint(
                {"stage": stage, "state_dict": model.state_dict(), "options": options},
                directory / f"{stage}.pt",
            )
            for stage, model in self._models().items()
        ]

    @classmethod
    def load(cls, directory: str | Path, **overrides) -> ExaTrkXTracker:
        """Build a tracker from the stage checkpoints written by :meth:`save`.

        Args:
            directory (str or Path): Folder with the ``<stage>.pt`` files.
            **overrides: Options replacing the saved ones, for example
                ``device`` or ``edge_score_cut``.
        """
        directory = Path(directory)
        gnn = load_checkpoint(directory / "gnn.pt")
        tracker = cls(**{**gnn["options"], **overrides, "checkpoint_dir": None})
        for stage, model in tracker._models().items():
            state = gnn if stage == "gnn" else load_checkpoint(directory / f"{stage}.pt")
            model.load_state_dict(state["state_dict"])
        return tracker

    def _inputs(self, event: Data, with_truth: bool = True) -> Data:
        return event_inputs(event, self.config, self.target_rule, self.device, with_truth)

    def _log_counts(self, stage: str, graphs: Sequence[Data]) -> dict[str, float]:
        total = count_target_edges(graphs)
        num_hits = max(sum(graph.num_nodes for graph in graphs), 1)
        logger.info(
            "Training %s: edge efficiency %.4f, purity %.4f, %.1f edges per hit",
            stage,
            total.efficiency,
            total.purity,
            total.num_selected / num_hits,
        )
        if stage == "graph":
            capped = sum(graph.num_capped_hits for graph in graphs) / num_hits
            logger.info(
                "Training graph: %.2f%% of hits capped at %d neighbours",
                100.0 * capped,
                self.config.max_num_neighbors,
            )
        return {
            f"train_{stage}_efficiency": total.efficiency,
            f"train_{stage}_purity": total.purity,
        }


def _signature() -> inspect.Signature:
    # The options of ExaTrkXConfig as keyword-only parameters, so that
    # inspect.signature(ExaTrkXTracker) and IDEs list them.
    parameters = [
        inspect.Parameter(
            option.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=option.default,
            annotation=option.type,
        )
        for option in dataclasses.fields(ExaTrkXConfig)
    ]
    return inspect.Signature(parameters)


ExaTrkXTracker.__signature__ = _signature()
