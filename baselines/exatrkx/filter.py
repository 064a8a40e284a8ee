"""Filter stage: an MLP on hit pairs removes most false edges before the GNN.

The filter follows the Exa.TrkX pipeline (Ju et al. 2021): a cheap per-edge
classifier that uses only the two hits of an edge, trained with binary
cross-entropy on all true edges and a subsample of false ones, half of them
the currently hardest and half drawn at random.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)


class FilterMLP(nn.Module):
    r"""Score an edge from the concatenated features of its two hits.

    The input of edge :math:`(i, j)` is :math:`(x_i, x_j, a_{ij})`, the node
    features of both hits followed by the edge features. Each hidden layer is
    Linear, LayerNorm and ReLU, and the output is one logit per edge.

    Args:
        node_in (int): Number of node features per hit.
        edge_in (int): Number of edge features, 0 for none.
        hidden (int, optional): Width of the hidden layers.
            (default: :obj:`256`)
        num_layers (int, optional): Number of hidden layers.
            (default: :obj:`3`)

    Shapes:
        - **input:** x :math:`(|V|, F_{node})`, edge_index :math:`(2, |E|)`,
          edge_attr :math:`(|E|, F_{edge})`
        - **output:** :math:`(|E|)`
    """

    def __init__(
        self, node_in: int, edge_in: int, hidden: int = 256, num_layers: int = 3
    ) -> None:
        super().__init__()
        if node_in < 1 or edge_in < 0 or hidden < 1 or num_layers < 1:
            raise ValueError(
                f"Expected node_in >= 1, edge_in >= 0, hidden >= 1 and "
                f"num_layers >= 1, got node_in={node_in}, edge_in={edge_in}, "
                f"hidden={hidden} and num_layers={num_layers}"
            )
        self.node_in = node_in
        self.edge_in = edge_in

        layers: list[nn.Module] = []
        width = 2 * node_in + edge_in
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None
    ) -> Tensor:
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(
                f"Expected 'edge_index' of shape [2, num_edges], got "
                f"{list(edge_index.shape)}"
            )
        parts = [x[edge_index[0]], x[edge_index[1]]]
        if self.edge_in > 0:
            if edge_attr is None or edge_attr.shape != (
                edge_index.size(1),
                self.edge_in,
            ):
                raise ValueError(
                    f"Expected 'edge_attr' of shape [{edge_index.size(1)}, "
                    f"{self.edge_in}], got "
                    f"{None if edge_attr is None else list(edge_attr.shape)}"
                )
            parts.append(edge_attr)
        return self.mlp(torch.cat(parts, dim=-1)).squeeze(-1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.node_in}, {self.edge_in})"


def sample_filter_edges(
    scores: Tensor,
    y: Tensor,
    negative_ratio: float,
    hard_fraction: float = 0.5,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Pick the edges of one filter training step.

    Every true edge is kept. Of the :math:`\lceil \rho \cdot |E_{true}| \rceil`
    false edges (at least one when the graph has any), a fraction
    :obj:`hard_fraction` are those the current model scores highest and the
    rest are drawn uniformly from the remaining false edges.

    Args:
        scores (torch.Tensor): Current scores of all edges (logits or
            probabilities, only their order matters).
        y (torch.Tensor): Boolean edge truth.
        negative_ratio (float): False edges per true edge, :math:`\rho`.
        hard_fraction (float, optional): Share of hard false edges.
            (default: :obj:`0.5`)
        generator (torch.Generator, optional): Source of the random picks.
            (default: :obj:`None`)

    Shapes:
        - **input:** scores :math:`(|E|)`, y :math:`(|E|)`
        - **output:** :math:`(|E_{step}|)`

    Returns:
        Indices of the chosen edges, sorted.
    """
    if negative_ratio <= 0 or not 0.0 <= hard_fraction <= 1.0:
        raise ValueError(
            f"Expected 'negative_ratio' > 0 and 'hard_fraction' in [0, 1], got "
            f"negative_ratio={negative_ratio} and hard_fraction={hard_fraction}"
        )
    y = y.bool()
    positive = torch.nonzero(y).view(-1)
    negative = torch.nonzero(~y).view(-1)
    num_negative = min(
        negative.numel(), max(1, math.ceil(negative_ratio * positive.numel()))
    )
    num_hard = round(hard_fraction * num_negative)

    by_score = torch.argsort(scores[negative].detach(), descending=True)
    hard = negative[by_score[:num_hard]]
    rest = negative[by_score[num_hard:]]
    pick = torch.randperm(rest.numel(), generator=generator)[: num_negative - num_hard]
    random = rest[pick.to(rest.device)]
    return torch.sort(torch.cat([positive, hard, random])).values


def train_filter(
    model: FilterMLP,
    graphs: Sequence[Data],
    epochs: int = 4,
    lr: float = 1e-3,
    negative_ratio: float = 3.0,
    hard_fraction: float = 0.5,
    pos_weight: float = 1.0,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> dict[str, float]:
    """Train a :class:`FilterMLP` with binary cross-entropy on sampled edges.

    Each step uses one graph and the edges of :func:`sample_filter_edges`.
    Adam with a cosine-decayed learning rate visits the graphs in a new random
    order every epoch.

    Args:
        model (FilterMLP): The model, trained in place.
        graphs (Sequence[Data]): Graphs with node features ``x``,
            ``edge_index``, ``edge_attr`` and boolean edge truth ``edge_y``.
        epochs (int, optional): Passes over the graphs. (default: :obj:`4`)
        lr (float, optional): Initial learning rate. (default: :obj:`1e-3`)
        negative_ratio (float, optional): False edges per true edge in a
            step. (default: :obj:`3.0`)
        hard_fraction (float, optional): Share of those false edges that are
            the hardest ones. (default: :obj:`0.5`)
        pos_weight (float, optional): Weight of true edges in the loss.
            (default: :obj:`1.0`)
        seed (int, optional): Seed of the graph order and the random false
            edges. (default: :obj:`0`)
        device (str or torch.device, optional): Training device.
            (default: :obj:`"cpu"`)
        progress (bool, optional): If set, show a progress bar.
            (default: :obj:`False`)

    Returns:
        The mean loss of the last epoch and the number of steps.
    """
    if epochs < 1:
        raise ValueError(f"Expected 'epochs' >= 1, got {epochs}")
    graphs = [graph for graph in graphs if graph.edge_index.size(1) > 0]
    if len(graphs) == 0:
        raise ValueError("Expected at least one training graph with edges")

    generator = torch.Generator().manual_seed(seed)
    num_steps = epochs * len(graphs)
    weight = torch.tensor(pos_weight, device=device)

    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, num_steps)

    bar = tqdm(total=num_steps, desc="filter", disable=not progress)
    epoch_loss = math.nan
    for epoch in range(epochs):
        losses = []
        for i in torch.randperm(len(graphs), generator=generator).tolist():
            graph = graphs[i].to(device)
            with torch.no_grad():
                scores = model(graph.x, graph.edge_index, graph.get("edge_attr"))
            chosen = sample_filter_edges(
                scores, graph.edge_y, negative_ratio, hard_fraction, generator
            )
            edge_attr = graph.edge_attr[chosen] if model.edge_in > 0 else None
            logits = model(graph.x, graph.edge_index[:, chosen], edge_attr)
            loss = F.binary_cross_entropy_with_logits(
                logits, graph.edge_y[chosen].float(), pos_weight=weight
            )

            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()

            losses.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.4f}")

        epoch_loss = sum(losses) / len(losses)
        logger.info("Filter epoch %d/%d: loss %.4f", epoch + 1, epochs, epoch_loss)
    bar.close()

    model.eval()
    return {"loss": epoch_loss, "steps": float(num_steps)}
