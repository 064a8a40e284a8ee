"""The output of the Exa.TrkX-style pipeline for one event, and metrics over many."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor
from torch_geometric.data import Data

from baselines.exatrkx.edge_counts import EdgeCounts, count_edges

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


class StageMetrics:
    """Accumulate edge efficiency and purity after each stage, and stage latencies.

    The stages are the candidate graph (``graph``), the edges passing the
    filter (``filter``, every edge without a filter) and the edges scoring
    above the GNN cut (``edge``). See
    :class:`~baselines.exatrkx.edge_counts.EdgeCounts` for the definitions.

    Args:
        filter_cut (float): Filter probability an edge must exceed.
        edge_score_cut (float): GNN probability an edge must exceed.
    """

    def __init__(self, filter_cut: float, edge_score_cut: float) -> None:
        self.filter_cut = filter_cut
        self.edge_score_cut = edge_score_cut
        self.counts = {stage: EdgeCounts(0, 0, 0, 0) for stage in ("graph", "filter", "edge")}
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.num_events = 0
        self.num_hits = 0
        self.num_capped_hits = 0

    def update(self, prediction: ExaTrkXPrediction, truth: Data) -> None:
        """Add one event.

        Args:
            prediction (ExaTrkXPrediction): The pipeline's output.
            truth (Data): The event's ``particle_id``, ``true_edge_index`` and
                boolean ``target_hit``; only truth edges starting at a target
                hit count.
        """
        true_edge_index = truth.true_edge_index[:, truth.target_hit[truth.true_edge_index[0]]]
        selections = {
            "graph": None,
            "filter": prediction.filter_scores > self.filter_cut,
            "edge": prediction.edge_scores > self.edge_score_cut,
        }
        for stage, mask in selections.items():
            self.counts[stage] = self.counts[stage] + count_edges(
                prediction.edge_index, truth.particle_id, true_edge_index, mask
            )
        for stage, value in prediction.seconds.items():
            self.seconds[stage] += value
        self.num_events += 1
        self.num_hits += prediction.labels.numel()
        self.num_capped_hits += prediction.num_capped_hits

    def compute(self, prefix: str = "") -> dict[str, float]:
        """Return the pooled metrics.

        Returns:
            Efficiency and purity of each stage, the fraction of hits whose
            neighbour list was capped, and the mean seconds per event of each
            stage, each name preceded by :obj:`prefix`.
        """
        metrics = {}
        for stage, total in self.counts.items():
            metrics[f"{prefix}{stage}_efficiency"] = total.efficiency
            metrics[f"{prefix}{stage}_purity"] = total.purity
        metrics[f"{prefix}capped_hit_fraction"] = self.num_capped_hits / max(self.num_hits, 1)
        for stage, value in self.seconds.items():
            metrics[f"{prefix}{stage}_seconds"] = value / max(self.num_events, 1)
        return metrics
