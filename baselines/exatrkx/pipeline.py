"""The Exa.TrkX-style track finder: embedding, graph, filter, GNN, tracks."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data
from tqdm.auto import tqdm

from baselines.exatrkx.config import ExaTrkXConfig
from baselines.exatrkx.edge_counts import EdgeCounts, count_edges
from baselines.exatrkx.features import edge_features, hit_features
from baselines.exatrkx.filter import FilterMLP, train_filter
from baselines.exatrkx.graph import build_radius_graph
from baselines.exatrkx.interaction_network import (
    InteractionNetwork,
    average_reverse_scores,
    train_edge_classifier,
)
from baselines.exatrkx.metric_learning import EmbeddingMLP, train_metric_learning
from baselines.exatrkx.track_building import connected_components, walkthrough
from baselines.exatrkx.truth import edge_truth, track_order, truth_edges
from fm4npp_geo.tasks.protocol import UNASSIGNED
from fm4npp_geo.training.checkpoint import load_checkpoint, save_checkpoint

logger = logging.getLogger(__name__)

#: Number of edge features written by :func:`edge_features`.
NUM_EDGE_FEATURES = 4

#: Pipeline stages in the order they run, also the keys of
#: :attr:`ExaTrkXPrediction.seconds`.
STAGES = ("embedding", "graph", "filter", "gnn", "track_building")


@dataclass
class ExaTrkXPrediction:
    """Everything :meth:`ExaTrkXTracker.predict_with_graph` computes for an event.

    Per-edge tensors are aligned with :attr:`edge_index`.
    """

    #: Hit embeddings, shape :math:`(|V|, D)`.
    embedding: Tensor
    #: Candidate graph from the embedding, shape :math:`(2, |E|)`.
    edge_index: Tensor
    #: Filter probabilities, shape :math:`(|E|)`; all 1 without a filter.
    filter_scores: Tensor
    #: Edge classifier probabilities, shape :math:`(|E|)`; 0 for edges the
    #: filter removed.
    edge_scores: Tensor
    #: Track label of each hit, shape :math:`(|V|)`. Labels are >= 0, or
    #: ``UNASSIGNED`` (-1) in a track smaller than ``min_track_size``.
    labels: Tensor
    #: Number of hits whose neighbour list was cut at ``max_num_neighbors``.
    num_capped_hits: int
    #: Seconds spent in each stage of :data:`STAGES`.
    seconds: dict[str, float] = field(default_factory=dict)


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

            graphs = [
                self._graph(item)
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
                graphs = [self._apply_filter(graph)[0] for graph in graphs]
                summary.update(self._log_counts("filter", graphs))

            classifier_summary = train_edge_classifier(
                self.edge_classifier,
                [self._gnn_input(graph) for graph in graphs],
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
        graph = self._graph(inputs, embedding)
        lap("graph")
        filtered, kept = self._apply_filter(graph)
        lap("filter")

        scores = torch.zeros(graph.edge_index.size(1), device=self.device)
        if filtered.edge_index.size(1) > 0:
            scores[kept] = self._classify(filtered)
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
        counts = {"graph": [], "filter": [], "edge": []}
        seconds = dict.fromkeys(STAGES, 0.0)
        num_capped, num_hits = 0, 0
        for event in events:
            prediction = self.predict_with_graph(event)
            truth = self._inputs(event)
            true_edge_index = truth.true_edge_index[:, truth.target_hit[truth.true_edge_index[0]]]
            selections = {
                "graph": None,
                "filter": prediction.filter_scores > self.config.filter_cut,
                "edge": prediction.edge_scores > self.config.edge_score_cut,
            }
            for stage, mask in selections.items():
                counts[stage].append(
                    count_edges(
                        prediction.edge_index, truth.particle_id, true_edge_index, mask
                    )
                )
            for stage, value in prediction.seconds.items():
                seconds[stage] += value
            num_capped += prediction.num_capped_hits
            num_hits += event.num_nodes

        metrics = {}
        for stage, stage_counts in counts.items():
            total = sum(stage_counts, EdgeCounts(0, 0, 0, 0))
            metrics[f"{prefix}{stage}_efficiency"] = total.efficiency
            metrics[f"{prefix}{stage}_purity"] = total.purity
        metrics[f"{prefix}capped_hit_fraction"] = num_capped / max(num_hits, 1)
        for stage, value in seconds.items():
            metrics[f"{prefix}{stage}_seconds"] = value / max(len(events), 1)
        return metrics

    def extra_metrics(self, events: Sequence[Data]) -> dict[str, float]:
        """Return the benchmark record's edge metrics, pooled over :obj:`events`.

        ``edge_efficiency`` and ``edge_purity`` are those of the GNN at its
        cut, ``graph_edge_efficiency`` and ``graph_edge_purity`` those of the
        graph construction, and ``filter_edge_efficiency`` and
        ``filter_edge_purity`` those of the edges passing the filter.
        """
        metrics = self.edge_metrics(events)
        return {
            "edge_efficiency": metrics["edge_efficiency"],
            "edge_purity": metrics["edge_purity"],
            "graph_edge_efficiency": metrics["graph_efficiency"],
            "graph_edge_purity": metrics["graph_purity"],
            "filter_edge_efficiency": metrics["filter_efficiency"],
            "filter_edge_purity": metrics["filter_purity"],
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
        config = self.config
        x = hit_features(event, config.r_scale, config.z_scale)
        if config.num_x_features > 0:
            event_x = getattr(event, "x", None)
            if event_x is None or event_x.size(-1) < config.num_x_features:
                raise ValueError(
                    f"Expected 'x' with at least {config.num_x_features} columns "
                    f"because num_x_features={config.num_x_features}, got "
                    f"{None if event_x is None else list(event_x.shape)}"
                )
            x = torch.cat([x, event_x[:, : config.num_x_features].float()], dim=1)

        inputs = Data(x=x.to(self.device), pos=event.pos.float().to(self.device))
        if with_truth:
            if getattr(event, "particle_id", None) is None:
                raise ValueError("Expected events with 'particle_id' for training and metrics")
            order = track_order(event, config.order_rule, config.magnetic_field)
            inputs.particle_id = event.particle_id.to(self.device)
            inputs.true_edge_index = truth_edges(
                event.particle_id, event.pos, order
            ).to(self.device)
            inputs.target_hit = self.target_rule.hit_mask(event).to(self.device)
        return inputs

    @torch.no_grad()
    def _graph(self, inputs: Data, embedding: Tensor | None = None) -> Data:
        config = self.config
        if embedding is None:
            embedding = self.embedding_model(inputs.x)
        graph = build_radius_graph(
            embedding,
            config.radius,
            config.max_num_neighbors,
            pos=inputs.pos,
            backend=config.graph_backend,
        )
        edge_attr = edge_features(
            inputs.pos, embedding, graph.edge_index, config.r_scale, config.z_scale
        )
        data = Data(
            x=torch.cat([inputs.x, embedding], dim=1),
            edge_index=graph.edge_index,
            edge_attr=edge_attr,
            num_capped_hits=graph.num_capped_hits,
        )
        if inputs.get("particle_id") is not None:
            data.particle_id = inputs.particle_id
            data.true_edge_index = inputs.true_edge_index
            data.target_hit = inputs.target_hit
            data.edge_y = edge_truth(graph.edge_index, inputs.particle_id)
        return data

    @torch.no_grad()
    def _apply_filter(self, graph: Data) -> tuple[Data, Tensor]:
        # Keep the edges the filter scores above its cut; returns the smaller
        # graph and the indices of the kept edges in the input graph.
        num_edges = graph.edge_index.size(1)
        if self.filter_model is None or num_edges == 0:
            graph.filter_scores = torch.ones(num_edges, device=self.device)
        else:
            logits = self.filter_model(graph.x, graph.edge_index, graph.edge_attr)
            graph.filter_scores = torch.sigmoid(logits)
        kept = torch.nonzero(graph.filter_scores > self.config.filter_cut).view(-1)

        filtered = graph.clone()
        filtered.edge_index = graph.edge_index[:, kept]
        filtered.edge_attr = graph.edge_attr[kept]
        filtered.filter_scores = graph.filter_scores[kept]
        if graph.get("edge_y") is not None:
            filtered.edge_y = graph.edge_y[kept]
        return filtered, kept

    def _gnn_input(self, graph: Data) -> Data:
        # Training graph of the GNN: true edges of non-target particles weigh
        # non_target_weight, every other edge 1.
        data = Data(
            x=graph.x,
            edge_index=graph.edge_index,
            edge_attr=graph.edge_attr,
            edge_y=graph.edge_y,
        )
        non_target = graph.edge_y & ~graph.target_hit[graph.edge_index[0]]
        data.edge_weight = torch.where(non_target, self.config.non_target_weight, 1.0)
        if self.config.gnn_undirected:
            data = _with_reverse_edges(data)
        return data

    def _classify(self, graph: Data) -> Tensor:
        if not self.config.gnn_undirected:
            logits = self.edge_classifier(graph.x, graph.edge_index, graph.edge_attr)
            return torch.sigmoid(logits)
        both = _with_reverse_edges(graph)
        scores = torch.sigmoid(
            self.edge_classifier(both.x, both.edge_index, both.edge_attr)
        )
        scores = average_reverse_scores(both.edge_index, scores, graph.num_nodes)
        return scores[: graph.edge_index.size(1)]

    def _log_counts(self, stage: str, graphs: Sequence[Data]) -> dict[str, float]:
        total = EdgeCounts(0, 0, 0, 0)
        for graph in graphs:
            targets = graph.true_edge_index[:, graph.target_hit[graph.true_edge_index[0]]]
            total = total + count_edges(graph.edge_index, graph.particle_id, targets)
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
            field.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=field.default,
            annotation=field.type,
        )
        for field in dataclasses.fields(ExaTrkXConfig)
    ]
    return inspect.Signature(parameters)


ExaTrkXTracker.__signature__ = _signature()


def _with_reverse_edges(graph: Data) -> Data:
    # Append each edge reversed; the reversed edge features change sign in
    # r, phi and z and keep the embedding distance.
    reverse_attr = graph.edge_attr.clone()
    reverse_attr[:, :3] = -reverse_attr[:, :3]
    both = graph.clone()
    both.edge_index = torch.cat([graph.edge_index, graph.edge_index.flip(0)], dim=1)
    both.edge_attr = torch.cat([graph.edge_attr, reverse_attr], dim=0)
    for name in ("edge_y", "edge_weight"):
        if graph.get(name) is not None:
            both[name] = torch.cat([graph[name], graph[name]], dim=0)
    return both
