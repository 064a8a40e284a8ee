"""Edge classification stage: an Interaction Network scores candidate edges.

The network follows the Interaction Network of Battaglia et al. 2016 as used
in the Exa.TrkX pipeline (Ju et al. 2021): node and edge encoders, then one
edge network and one node network applied recurrently with shared weights, and
an edge classifier on the final node and edge states.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.utils import scatter
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

AGGREGATIONS = ("sum", "mean", "max")


def _mlp(in_features: int, hidden: int, num_layers: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = in_features
    for _ in range(num_layers):
        layers += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.ReLU()]
        width = hidden
    return nn.Sequential(*layers)


class EdgeMLP(nn.Module):
    r"""MLP on the concatenation :math:`(h_i, h_j, e_{ij})` of each edge.

    The first Linear layer is split into its blocks for :math:`h_i`,
    :math:`h_j` and :math:`e_{ij}`. The node blocks run once per node and are
    gathered per edge, which gives the same result as concatenating but does
    about a third of the work on edges.

    Args:
        hidden (int): Width of node states, edge states and hidden layers.
        num_layers (int): Number of Linear, LayerNorm, ReLU layers.

    Shapes:
        - **input:** h :math:`(|V|, H)`, e :math:`(|E|, H)`,
          edge_index :math:`(2, |E|)`
        - **output:** :math:`(|E|, H)`
    """

    def __init__(self, hidden: int, num_layers: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.first = nn.Linear(3 * hidden, hidden)
        layers: list[nn.Module] = [nn.LayerNorm(hidden), nn.ReLU()]
        if num_layers > 1:
            layers.append(_mlp(hidden, hidden, num_layers - 1))
        self.rest = nn.Sequential(*layers)

    def forward(self, h: Tensor, e: Tensor, edge_index: Tensor) -> Tensor:
        source, target = edge_index
        w_source, w_target, w_edge = self.first.weight.split(self.hidden, dim=1)
        z = F.linear(e, w_edge, self.first.bias)
        z = z + (h @ w_source.T)[source] + (h @ w_target.T)[target]
        return self.rest(z)


class InteractionNetwork(nn.Module):
    r"""Interaction Network edge classifier with shared message-passing weights.

    Encoders map node features to :math:`h_i` and edge features to
    :math:`e_{ij}`. Then, :obj:`num_iterations` times with the same weights,

    .. math::
        e_{ij} &\leftarrow e_{ij} + \phi_e(h_i, h_j, e_{ij}) \\
        h_i &\leftarrow h_i + \phi_h\Big(h_i,
            \bigoplus_{j \to i} e_{ji}, \bigoplus_{i \to j} e_{ij}\Big),

    where :math:`\bigoplus` aggregates (sum, mean or max) over incoming and
    over outgoing edges separately. The output is one logit per edge,
    :math:`\phi_o(h_i, h_j, e_{ij})`. Every :math:`\phi` is an MLP of
    Linear, LayerNorm and ReLU layers.

    Args:
        node_in (int): Number of input features per node.
        edge_in (int): Number of input features per edge.
        hidden (int, optional): Width of all hidden states. (default: :obj:`128`)
        num_iterations (int, optional): Message-passing iterations.
            (default: :obj:`8`)
        num_layers (int, optional): Layers of each MLP. (default: :obj:`2`)
        aggregation (str, optional): :obj:`"sum"`, :obj:`"mean"` or
            :obj:`"max"`. (default: :obj:`"sum"`)

    Shapes:
        - **input:** x :math:`(|V|, F_{node})`, edge_index :math:`(2, |E|)`,
          edge_attr :math:`(|E|, F_{edge})`
        - **output:** :math:`(|E|)`
    """

    def __init__(
        self,
        node_in: int,
        edge_in: int,
        hidden: int = 128,
        num_iterations: int = 8,
        num_layers: int = 2,
        aggregation: str = "sum",
    ) -> None:
        super().__init__()
        if aggregation not in AGGREGATIONS:
            raise ValueError(
                f"Expected 'aggregation' in {AGGREGATIONS}, got '{aggregation}'"
            )
        if min(node_in, edge_in, hidden, num_iterations, num_layers) < 1:
            raise ValueError(
                f"Expected positive sizes, got node_in={node_in}, "
                f"edge_in={edge_in}, hidden={hidden}, "
                f"num_iterations={num_iterations} and num_layers={num_layers}"
            )
        self.node_in = node_in
        self.edge_in = edge_in
        self.hidden = hidden
        self.num_iterations = num_iterations
        self.aggregation = aggregation

        self.node_encoder = _mlp(node_in, hidden, num_layers)
        self.edge_encoder = _mlp(edge_in, hidden, num_layers)
        self.edge_network = EdgeMLP(hidden, num_layers)
        self.node_network = _mlp(3 * hidden, hidden, num_layers)
        self.output_network = EdgeMLP(hidden, num_layers)
        self.output_layer = nn.Linear(hidden, 1)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_attr: Tensor,
        return_all: bool = False,
    ) -> Tensor:
        """Score every edge.

        Args:
            x (torch.Tensor): Node features.
            edge_index (torch.Tensor): Edges.
            edge_attr (torch.Tensor): Edge features.
            return_all (bool, optional): If set, apply the output network
                after every iteration and return all of these logits, for a
                loss on each iteration. (default: :obj:`False`)

        Returns:
            Logits of shape :math:`(|E|)`, or :math:`(T, |E|)` for
            :math:`T` iterations with :obj:`return_all`.
        """
        num_nodes = x.size(0)
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(
                f"Expected 'edge_index' of shape [2, num_edges], got "
                f"{list(edge_index.shape)}"
            )
        if edge_attr.shape != (edge_index.size(1), self.edge_in):
            raise ValueError(
                f"Expected 'edge_attr' of shape [{edge_index.size(1)}, "
                f"{self.edge_in}], got {list(edge_attr.shape)}"
            )
        source, target = edge_index

        h = self.node_encoder(x)  # (|V|, hidden)
        e = self.edge_encoder(edge_attr)  # (|E|, hidden)

        outputs = []
        for _ in range(self.num_iterations):
            e = e + self.edge_network(h, e, edge_index)

            incoming = scatter(e, target, 0, num_nodes, reduce=self.aggregation)
            outgoing = scatter(e, source, 0, num_nodes, reduce=self.aggregation)
            h = h + self.node_network(torch.cat([h, incoming, outgoing], dim=-1))

            if return_all:
                outputs.append(self._classify(h, e, edge_index))

        if return_all:
            return torch.stack(outputs)  # (T, |E|)
        return self._classify(h, e, edge_index)

    def _classify(self, h: Tensor, e: Tensor, edge_index: Tensor) -> Tensor:
        return self.output_layer(self.output_network(h, e, edge_index)).squeeze(-1)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.node_in}, {self.edge_in}, "
            f"hidden={self.hidden}, num_iterations={self.num_iterations}, "
            f"aggregation='{self.aggregation}')"
        )


def average_reverse_scores(edge_index: Tensor, scores: Tensor, num_nodes: int) -> Tensor:
    r"""Average the scores of edges :math:`(i, j)` and :math:`(j, i)`.

    For an undirected graph stored with both directions, the classifier
    scores each direction separately. Edges whose reverse is present get the
    mean of both scores, and the others keep their own.

    Shapes:
        - **input:** edge_index :math:`(2, |E|)`, scores :math:`(|E|)`
        - **output:** :math:`(|E|)`
    """
    if scores.shape != (edge_index.size(1),):
        raise ValueError(
            f"Expected 'scores' of shape [{edge_index.size(1)}], got "
            f"{list(scores.shape)}"
        )
    source, target = edge_index
    low = torch.minimum(source, target)
    high = torch.maximum(source, target)
    _, pair = torch.unique(low * num_nodes + high, return_inverse=True)
    total = scatter(scores, pair, 0, reduce="sum")
    count = scatter(torch.ones_like(scores), pair, 0, reduce="sum")
    return (total / count)[pair]


def positive_class_weight(graphs: Sequence[Data]) -> float:
    """Return the ratio of false to true edges over graphs with ``edge_y``.

    The ratio is at least 1, so it only ever up-weights true edges.
    """
    num_true = sum(int(graph.edge_y.sum()) for graph in graphs)
    num_edges = sum(graph.edge_y.numel() for graph in graphs)
    if num_true == 0:
        return 1.0
    return max(1.0, (num_edges - num_true) / num_true)


def train_edge_classifier(
    model: InteractionNetwork,
    graphs: Sequence[Data],
    epochs: int = 4,
    lr: float = 1e-3,
    pos_weight: float | None = None,
    max_grad_norm: float = 1.0,
    loss_all_iterations: bool = False,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> dict[str, float]:
    """Train an :class:`InteractionNetwork` with weighted binary cross-entropy.

    Each step uses one graph. AdamW with a cosine-decayed learning rate visits
    the graphs in a new random order every epoch, and gradients are clipped
    to norm :obj:`max_grad_norm`. True edges weigh :obj:`pos_weight` times
    more than false ones, and a graph's optional per-edge ``edge_weight``
    multiplies the loss of each edge.

    Args:
        model (InteractionNetwork): The model, trained in place.
        graphs (Sequence[Data]): Graphs with node features ``x``,
            ``edge_index``, ``edge_attr`` and boolean edge truth ``edge_y``.
        epochs (int, optional): Passes over the graphs. (default: :obj:`4`)
        lr (float, optional): Initial learning rate. (default: :obj:`1e-3`)
        pos_weight (float, optional): Weight of true edges in the loss. By
            default, :func:`positive_class_weight` of the graphs.
            (default: :obj:`None`)
        max_grad_norm (float, optional): Gradient clipping norm.
            (default: :obj:`1.0`)
        loss_all_iterations (bool, optional): If set, average the loss over
            the outputs of every message-passing iteration instead of using
            the last one only. (default: :obj:`False`)
        seed (int, optional): Seed of the graph order. (default: :obj:`0`)
        device (str or torch.device, optional): Training device.
            (default: :obj:`"cpu"`)
        progress (bool, optional): If set, show a progress bar.
            (default: :obj:`False`)

    Returns:
        The mean loss of the last epoch, the positive weight used and the
        number of steps.
    """
    if epochs < 1:
        raise ValueError(f"Expected 'epochs' >= 1, got {epochs}")
    graphs = [graph for graph in graphs if graph.edge_index.size(1) > 0]
    if len(graphs) == 0:
        raise ValueError("Expected at least one training graph with edges")
    if pos_weight is None:
        pos_weight = positive_class_weight(graphs)

    generator = torch.Generator().manual_seed(seed)
    num_steps = epochs * len(graphs)
    weight = torch.tensor(pos_weight, device=device)

    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, num_steps)

    bar = tqdm(total=num_steps, desc="edge classifier", disable=not progress)
    epoch_loss = math.nan
    for epoch in range(epochs):
        losses = []
        for i in torch.randperm(len(graphs), generator=generator).tolist():
            graph = graphs[i].to(device)
            logits = model(
                graph.x, graph.edge_index, graph.edge_attr, loss_all_iterations
            )
            target = graph.edge_y.float().expand_as(logits)
            edge_weight = graph.get("edge_weight")
            if edge_weight is not None:
                edge_weight = edge_weight.float().expand_as(logits)
            loss = F.binary_cross_entropy_with_logits(
                logits, target, weight=edge_weight, pos_weight=weight
            )

            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            optimizer.step()
            scheduler.step()

            losses.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.4f}")

        epoch_loss = sum(losses) / len(losses)
        logger.info(
            "Edge classifier epoch %d/%d: loss %.4f", epoch + 1, epochs, epoch_loss
        )
    bar.close()

    model.eval()
    return {"loss": epoch_loss, "pos_weight": pos_weight, "steps": float(num_steps)}
