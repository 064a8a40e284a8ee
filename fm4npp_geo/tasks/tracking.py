"""Track finding as metric learning plus clustering of hit embeddings."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.cluster import DBSCAN
from torch import Tensor

from fm4npp_geo.metrics import UNASSIGNED


def _positive_pairs(particle_id: Tensor, batch: Tensor, generator: torch.Generator) -> Tensor:
    """Pair every non-noise hit with a random other hit of the same particle."""
    # One key per (event, particle), without arithmetic that large TrackML ids overflow.
    _, key = torch.unique(torch.stack([batch, particle_id]), dim=1, return_inverse=True)
    sorted_key, perm = torch.sort(key, stable=True)
    _, counts = torch.unique_consecutive(sorted_key, return_counts=True)
    start = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    size = torch.repeat_interleave(counts, counts)
    position = torch.arange(key.numel()) - start

    usable = (size > 1) & (particle_id[perm] != 0)
    offset = (torch.rand(key.numel(), generator=generator) * (size - 1).clamp_min(1)).long()
    partner = start + (position + 1 + offset) % size
    return torch.stack([perm[usable], perm[partner[usable]]])


def _random_pairs(ptr: Tensor, batch: Tensor, generator: torch.Generator) -> Tensor:
    """Pair every hit with a random hit of the same event."""
    count = (ptr[1:] - ptr[:-1])[batch]
    partner = ptr[batch] + (torch.rand(batch.numel(), generator=generator) * count).long()
    return torch.stack([torch.arange(batch.numel()), partner])


def _hard_negative_pairs(embedding: Tensor, particle_id: Tensor, ptr: Tensor, k: int) -> Tensor:
    """Pair every hit with its k nearest hits in embedding space, within its event."""
    pairs = []
    detached = embedding.detach()
    for event in range(ptr.numel() - 1):
        low, high = int(ptr[event]), int(ptr[event + 1])
        if high - low < 2:
            continue
        distance = torch.cdist(detached[low:high], detached[low:high])
        distance.fill_diagonal_(float("inf"))
        neighbor = distance.topk(min(k, high - low - 1), largest=False).indices
        source = torch.arange(high - low).unsqueeze(1).expand_as(neighbor)
        pairs.append(torch.stack([source.reshape(-1), neighbor.reshape(-1)]) + low)
    if not pairs:
        return torch.zeros(2, 0, dtype=torch.long)
    return torch.cat(pairs, dim=1)


def contrastive_hinge_loss(
    embedding: Tensor,
    particle_id: Tensor,
    ptr: Tensor,
    batch: Tensor,
    margin: float = 0.5,
    hard_negatives: int = 8,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Pull hits of one particle together and push all other pairs apart.

    Pairs are drawn inside each event: every non-noise hit with a random hit of
    its own particle (positive), and with a random hit and its ``hard_negatives``
    nearest hits in embedding space (negative unless of the same non-noise
    particle). Noise hits are never positive partners, so clustering leaves
    them unassigned. With :math:`d` the Euclidean distance,

    .. math::
        \mathcal{L} = \overline{d^2}_{\text{pos}} +
        \overline{\max(0, m - d)^2}_{\text{neg}}.

    Args:
        embedding (Tensor): hit embeddings, [num_hits, E].
        particle_id (Tensor): truth particle per hit, 0 = noise, [num_hits].
        ptr (Tensor): event offsets, [num_events + 1].
        batch (Tensor): event index per hit, [num_hits].
        margin (float, optional): distance beyond which negatives cost nothing.
        hard_negatives (int, optional): nearest neighbours mined per hit.
        generator (torch.Generator, optional): source of the random pairs.
    """
    if embedding.size(0) < 2:
        return embedding.sum() * 0.0
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    positive = _positive_pairs(particle_id, batch, generator)
    candidates = torch.cat(
        [_random_pairs(ptr, batch, generator), _hard_negative_pairs(embedding, particle_id, ptr, hard_negatives)],
        dim=1,
    )
    same = (particle_id[candidates[0]] == particle_id[candidates[1]]) & (particle_id[candidates[0]] != 0)
    negative = candidates[:, ~same & (candidates[0] != candidates[1])]

    loss = embedding.sum() * 0.0
    if positive.size(1):
        loss = loss + (embedding[positive[0]] - embedding[positive[1]]).pow(2).sum(-1).mean()
    if negative.size(1):
        distance = (embedding[negative[0]] - embedding[negative[1]]).pow(2).sum(-1).clamp_min(1e-12).sqrt()
        loss = loss + (margin - distance).clamp_min(0).pow(2).mean()
    return loss


def cluster_embeddings(embedding: Tensor, eps: float, min_samples: int = 3) -> Tensor:
    """Group hit embeddings of one event into tracks with DBSCAN.

    Hits that DBSCAN leaves as noise get the label
    :data:`~fm4npp_geo.metrics.UNASSIGNED`.

    Returns:
        track labels, [num_hits] long.
    """
    if embedding.size(0) == 0:
        return torch.zeros(0, dtype=torch.long)
    labels = DBSCAN(eps=eps, min_samples=min_samples).fit_predict(embedding.detach().cpu().numpy())
    labels = np.where(labels < 0, UNASSIGNED, labels)
    return torch.from_numpy(labels.astype(np.int64))
