"""Metric learning stage: embed hits so that hits of a track lie close together.

The embedding follows the Exa.TrkX pipeline (Ju et al. 2021, "Performance of a
geometric deep learning pipeline for HL-LHC particle tracking"): an MLP maps
each hit to a point in a low-dimensional space, trained with a hinge loss on
squared distances over true pairs, random pairs and hard negatives found by a
radius query in the current embedding.
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

from baselines.exatrkx.graph import build_radius_graph
from baselines.exatrkx.truth import edge_truth, truth_edges

logger = logging.getLogger(__name__)


class EmbeddingMLP(nn.Module):
    r"""Map hit features to points on the unit sphere in :math:`\mathbb{R}^D`.

    Each hidden layer is Linear, LayerNorm and Tanh. The output is
    L2-normalized, so distances between embeddings lie in :math:`[0, 2]`.

    Args:
        in_features (int): Number of input features per hit.
        hidden (int, optional): Width of the hidden layers. (default: :obj:`256`)
        num_layers (int, optional): Number of hidden layers. (default: :obj:`4`)
        emb_dim (int, optional): Embedding dimension :math:`D`.
            (default: :obj:`12`)

    Shapes:
        - **input:** x :math:`(|V|, F_{in})`
        - **output:** :math:`(|V|, D)`
    """

    def __init__(
        self,
        in_features: int,
        hidden: int = 256,
        num_layers: int = 4,
        emb_dim: int = 12,
    ) -> None:
        super().__init__()
        if in_features < 1 or hidden < 1 or num_layers < 1 or emb_dim < 2:
            raise ValueError(
                f"Expected in_features >= 1, hidden >= 1, num_layers >= 1 and "
                f"emb_dim >= 2, got in_features={in_features}, hidden={hidden}, "
                f"num_layers={num_layers} and emb_dim={emb_dim}"
            )
        self.in_features = in_features
        self.emb_dim = emb_dim

        layers: list[nn.Module] = []
        width = in_features
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.Tanh()]
            width = hidden
        layers.append(nn.Linear(width, emb_dim))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(self.mlp(x), dim=-1)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_features}, "
            f"emb_dim={self.emb_dim})"
        )


def hinge_loss(
    embedding: Tensor,
    edge_index: Tensor,
    y: Tensor,
    margin: float,
    positive_weight: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    r"""Compute the hinge loss on squared embedding distances of hit pairs.

    With :math:`d_{ij} = \lVert e_i - e_j \rVert_2^2`, margin :math:`m` and
    pair weights :math:`w_{ij}` (all 1 by default),

    .. math::
        \mathcal{L} = w_+ \frac{\sum_{y_{ij} = 1} w_{ij} d_{ij}}
        {\sum_{y_{ij} = 1} w_{ij}}
        + \frac{\sum_{y_{ij} = 0} w_{ij} \max(0, m^2 - d_{ij})}
        {\sum_{y_{ij} = 0} w_{ij}},

    where a term over no pairs, or over pairs of total weight 0, counts as
    zero.

    Args:
        embedding (torch.Tensor): Embedded hits.
        edge_index (torch.Tensor): Hit pairs.
        y (torch.Tensor): Whether each pair belongs to the same particle.
        margin (float): Distance :math:`m` beyond which negatives cost nothing.
        positive_weight (float, optional): Weight :math:`w_+` of the positive
            term. (default: :obj:`1.0`)
        weight (torch.Tensor, optional): Non-negative weight of each pair.
            (default: :obj:`None`)

    Shapes:
        - **input:** embedding :math:`(|V|, D)`, edge_index :math:`(2, |E|)`,
          y :math:`(|E|)`, weight :math:`(|E|)`
        - **output:** scalar
    """
    source, target = edge_index
    squared_distance = (embedding[source] - embedding[target]).pow(2).sum(dim=-1)
    y = y.bool()
    if weight is None:
        weight = torch.ones_like(squared_distance)

    loss = embedding.new_zeros(())
    positive_total = weight[y].sum()
    if positive_total > 0:
        positive = (weight[y] * squared_distance[y]).sum() / positive_total
        loss = loss + positive_weight * positive
    negative_total = weight[~y].sum()
    if negative_total > 0:
        hinge = F.relu(margin**2 - squared_distance[~y])
        loss = loss + (weight[~y] * hinge).sum() / negative_total
    return loss


def sample_training_pairs(
    embedding: Tensor,
    particle_id: Tensor,
    true_edge_index: Tensor,
    margin: float,
    knn: int,
    num_random_pairs: int,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Sample the hit pairs of one metric learning step.

    The pairs are the truth edges, :obj:`num_random_pairs` uniformly random
    pairs, and hard negatives: pairs within :obj:`margin` of each other in the
    current embedding, up to :obj:`knn` per hit. A pair is positive when both
    hits belong to the same non-noise particle.

    Shapes:
        - **input:** embedding :math:`(|V|, D)`, particle_id :math:`(|V|)`,
          true_edge_index :math:`(2, |E_{true}|)`
        - **output:** edge_index :math:`(2, |E|)`, y :math:`(|E|)`

    Returns:
        The pairs and their boolean labels.
    """
    device = embedding.device
    num_hits = embedding.size(0)

    close_pairs = build_radius_graph(embedding.detach(), margin, knn).edge_index
    random_pairs = torch.randint(
        num_hits, (2, num_random_pairs), generator=generator
    ).to(device)
    random_pairs = random_pairs[:, random_pairs[0] != random_pairs[1]]

    edge_index = torch.cat(
        [true_edge_index.to(device), close_pairs, random_pairs], dim=1
    )
    return edge_index, edge_truth(edge_index, particle_id.to(device))


def pair_weights(
    edge_index: Tensor, y: Tensor, target_hit: Tensor, non_target_weight: float
) -> Tensor:
    """Weigh positive pairs of non-target particles by :obj:`non_target_weight`.

    Negative pairs and positive pairs of target particles weigh 1.

    Shapes:
        - **input:** edge_index :math:`(2, |E|)`, y :math:`(|E|)`,
          target_hit :math:`(|V|)`
        - **output:** :math:`(|E|)`
    """
    weight = torch.ones(y.shape, device=y.device)
    non_target = y.bool() & ~target_hit[edge_index[0]].to(y.device)
    weight[non_target] = non_target_weight
    return weight


def train_metric_learning(
    model: EmbeddingMLP,
    events: Sequence[Data],
    epochs: int = 10,
    lr: float = 1e-3,
    margin: float = 0.1,
    knn: int = 20,
    random_pairs_per_hit: float = 2.0,
    positive_weight: float = 2.0,
    non_target_weight: float = 1.0,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> dict[str, float]:
    """Train an :class:`EmbeddingMLP` with the hinge loss of :func:`hinge_loss`.

    Each step uses one event, its pairs drawn by :func:`sample_training_pairs`
    and weighed by :func:`pair_weights`. Adam with a cosine-decayed learning
    rate visits the events in a new random order every epoch.

    Args:
        model (EmbeddingMLP): The model, trained in place.
        events (Sequence[Data]): Events with model inputs ``x``, hit positions
            ``pos`` in cm and ``particle_id`` (0 for noise). Optional
            ``true_edge_index`` gives the truth edges (by default
            :func:`~baselines.exatrkx.truth.truth_edges` by radius) and
            optional boolean ``target_hit`` the hits of target particles (by
            default every non-noise hit).
        epochs (int, optional): Passes over the events. (default: :obj:`10`)
        lr (float, optional): Initial learning rate. (default: :obj:`1e-3`)
        margin (float, optional): Hinge margin, also the radius of the hard
            negative query. (default: :obj:`0.1`)
        knn (int, optional): Maximum number of hard-negative candidates per
            hit. (default: :obj:`20`)
        random_pairs_per_hit (float, optional): Random pairs per hit of the
            event. (default: :obj:`2.0`)
        positive_weight (float, optional): Weight of the positive term.
            (default: :obj:`2.0`)
        non_target_weight (float, optional): Weight of positive pairs of
            non-target particles. (default: :obj:`1.0`)
        seed (int, optional): Seed of the event order and the random pairs.
            (default: :obj:`0`)
        device (str or torch.device, optional): Training device.
            (default: :obj:`"cpu"`)
        progress (bool, optional): If set, show a progress bar.
            (default: :obj:`False`)

    Returns:
        The mean loss of the last epoch and the number of steps.
    """
    if epochs < 1:
        raise ValueError(f"Expected 'epochs' >= 1, got {epochs}")
    # A pair needs two hits, so smaller events give no training signal.
    events = [event for event in events if event.num_nodes >= 2]
    if len(events) == 0:
        raise ValueError("Expected at least one training event with two or more hits")

    generator = torch.Generator().manual_seed(seed)
    true_edges = [
        event.true_edge_index
        if event.get("true_edge_index") is not None
        else truth_edges(event.particle_id, event.pos)
        for event in events
    ]
    target_hits = [
        event.target_hit if event.get("target_hit") is not None else event.particle_id > 0
        for event in events
    ]
    num_steps = epochs * len(events)

    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, num_steps)

    bar = tqdm(total=num_steps, desc="metric learning", disable=not progress)
    epoch_loss = math.nan
    for epoch in range(epochs):
        losses = []
        for i in torch.randperm(len(events), generator=generator).tolist():
            event = events[i]
            embedding = model(event.x.to(device))
            num_random = math.ceil(random_pairs_per_hit * event.num_nodes)
            edge_index, y = sample_training_pairs(
                embedding,
                event.particle_id,
                true_edges[i],
                margin,
                knn,
                num_random,
                generator,
            )
            weight = pair_weights(edge_index, y, target_hits[i], non_target_weight)
            loss = hinge_loss(
                embedding, edge_index, y, margin, positive_weight, weight
            )
            if not loss.requires_grad:
                # No pair was drawn, which only happens in tiny events.
                bar.update()
                continue

            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()

            losses.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.4f}")

        epoch_loss = sum(losses) / max(len(losses), 1)
        logger.info("Metric learning epoch %d/%d: loss %.4f", epoch + 1, epochs, epoch_loss)
    bar.close()

    model.eval()
    return {"loss": epoch_loss, "steps": float(num_steps)}
