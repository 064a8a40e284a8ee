"""Edge efficiency and purity of a graph, as counts that sum over events."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from baselines.exatrkx.truth import edge_truth


@dataclass(frozen=True)
class EdgeCounts:
    """Edge counts behind edge efficiency and purity, summable over events.

    Efficiency is the fraction of truth edges (consecutive hits of a particle,
    see :func:`~baselines.exatrkx.truth.truth_edges`) that are among the
    selected edges, in either direction. Purity is the fraction of selected
    edges whose two hits belong to the same non-noise particle.
    """

    #: Number of truth edges.
    num_true: int
    #: Number of truth edges among the selected edges.
    num_true_selected: int
    #: Number of selected edges.
    num_selected: int
    #: Number of selected edges joining hits of the same non-noise particle.
    num_selected_same_particle: int

    def __add__(self, other: EdgeCounts) -> EdgeCounts:
        return EdgeCounts(
            self.num_true + other.num_true,
            self.num_true_selected + other.num_true_selected,
            self.num_selected + other.num_selected,
            self.num_selected_same_particle + other.num_selected_same_particle,
        )

    @property
    def efficiency(self) -> float:
        """Fraction of truth edges selected, NaN without truth edges."""
        if self.num_true == 0:
            return float("nan")
        return self.num_true_selected / self.num_true

    @property
    def purity(self) -> float:
        """Fraction of selected edges that are true, NaN without edges."""
        if self.num_selected == 0:
            return float("nan")
        return self.num_selected_same_particle / self.num_selected


def count_edges(
    edge_index: Tensor,
    particle_id: Tensor,
    true_edge_index: Tensor,
    edge_mask: Tensor | None = None,
) -> EdgeCounts:
    r"""Count the edges behind the edge efficiency and purity of a graph.

    Args:
        edge_index (torch.Tensor): Candidate edges.
        particle_id (torch.Tensor): Truth particle of each hit, 0 for noise.
        true_edge_index (torch.Tensor): Truth edges of the event.
        edge_mask (torch.Tensor, optional): Selected candidate edges, for
            example those with a classifier score above a cut. All edges are
            selected when not given. (default: :obj:`None`)

    Shapes:
        - **input:** edge_index :math:`(2, |E|)`, particle_id :math:`(|V|)`,
          true_edge_index :math:`(2, |E_{true}|)`, edge_mask :math:`(|E|)`

    Returns:
        The edge counts of one event.
    """
    if edge_mask is not None:
        if edge_mask.shape != (edge_index.size(1),):
            raise ValueError(
                f"Expected 'edge_mask' of shape [{edge_index.size(1)}], got "
                f"{list(edge_mask.shape)}"
            )
        edge_index = edge_index[:, edge_mask.bool()]

    same_particle = edge_truth(edge_index, particle_id)
    # Which truth edges are present: label the truth edges against the graph.
    found = edge_truth(true_edge_index, particle_id, true_edge_index=edge_index)

    return EdgeCounts(
        num_true=true_edge_index.size(1),
        num_true_selected=int(found.sum()),
        num_selected=edge_index.size(1),
        num_selected_same_particle=int(same_particle.sum()),
    )
