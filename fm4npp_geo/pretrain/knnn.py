"""The k-next-nearest-neighbour (k-NNN) pretraining objective of FM4NPP."""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

# Candidate neighbours fetched per hit in the first KD-tree query, as a multiple
# of k. Hits that find too few valid candidates are queried again with 4x more.
_FIRST_QUERY_FACTOR = 4


def knnn_targets(coords: Tensor, k: int, strict_radius: bool = False) -> tuple[Tensor, Tensor]:
    r"""Find, for every hit, its k nearest hits among the hits that come after it.

    ``coords`` are in serialized order. A candidate of hit :math:`i` is any hit
    :math:`j > i` in that order or, with ``strict_radius``, any hit with larger
    radius (the last column of ``coords``), which is how FM4NPP (arXiv
    2508.14087) defines the next neighbours. Candidates are ranked by Euclidean
    distance in ``coords``, nearest first, ties by smaller index. Hits with fewer
    than k candidates get zero-padded targets that ``mask`` marks as missing.

    The search uses a KD-tree (:class:`scipy.spatial.cKDTree`): each hit first
    fetches its 4k nearest hits of the whole event, and only hits left with too
    few valid candidates are queried again with 4x as many. No N x N matrix is
    built.

    NOTE: when several hits tie at exactly the distance of the last fetched
    candidate, the KD-tree decides which of them are fetched, so a tie at that
    boundary may pick a larger index than the stated rule.

    Args:
        coords (Tensor): hit coordinates in serialized order, r last, [N, 3].
        k (int): neighbours per hit.
        strict_radius (bool, optional): candidates are hits with larger r instead
            of later hits. (default: :obj:`False`)

    Returns:
        targets :math:`(N, k, 3)` with the neighbours' coordinates, and mask
        :math:`(N, k)` bool, true where a neighbour exists.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if coords.dim() != 2:
        raise ValueError(f"coords must have shape [num_hits, dims], got {tuple(coords.shape)}")
    num_hits, dims = coords.shape
    targets = coords.new_zeros(num_hits, k, dims)
    mask = torch.zeros(num_hits, k, dtype=torch.bool, device=coords.device)
    if num_hits < 2:
        return targets, mask

    points = coords.detach().double().cpu().numpy()
    radius = points[:, -1]
    if strict_radius:
        sorted_radius = np.sort(radius)
        available = num_hits - np.searchsorted(sorted_radius, radius, side="right")
    else:
        available = num_hits - 1 - np.arange(num_hits)
    needed = np.minimum(available, k)

    tree = cKDTree(points)
    neighbor = np.zeros((num_hits, k), dtype=np.int64)
    pending = np.flatnonzero(needed > 0)
    query_size = min(num_hits, _FIRST_QUERY_FACTOR * k)
    while pending.size:
        distance, index = tree.query(points[pending], k=query_size)
        distance = distance.reshape(pending.size, -1)
        index = index.reshape(pending.size, -1)

        # Rank candidates by (distance, index) and drop those not after the hit.
        rank = np.lexsort((index, distance), axis=-1)
        distance = np.take_along_axis(distance, rank, axis=-1)
        index = np.take_along_axis(index, rank, axis=-1)
        if strict_radius:
            valid = radius[index] > radius[pending, None]
        else:
            valid = index > pending[:, None]

        done = (valid.sum(axis=-1) >= needed[pending]) | (query_size >= num_hits)
        rows, columns = np.nonzero(valid[done])
        slot = np.cumsum(valid[done], axis=-1)[rows, columns] - 1
        keep = slot < k
        neighbor[pending[done][rows[keep]], slot[keep]] = index[done][rows[keep], columns[keep]]

        pending = pending[~done]
        query_size = min(num_hits, query_size * 4)

    mask_np = np.arange(k)[None, :] < needed[:, None]
    neighbor_t = torch.from_numpy(neighbor).to(coords.device)
    mask = torch.from_numpy(mask_np).to(coords.device)
    targets = coords[neighbor_t] * mask.unsqueeze(-1)
    return targets, mask


class KNNNTargets(BaseTransform):
    r"""Precompute k-NNN pretraining targets of an event in hit order.

    Reads ``x`` (the coordinates are columns 1..3: eta, phi, r, scaled) and
    ``order``. Writes ``knnn_target`` with the coordinates of each hit's k next
    nearest neighbours along the serialized sequence and ``knnn_mask``.

    Args:
        k (int, optional): neighbours per hit. (default: :obj:`30`, the best value
            among 1, 5 and 30 in FM4NPP)
        strict_radius (bool, optional): see :func:`knnn_targets`.

    Shapes:
        - **input:** x :math:`(|V|, 4)`, order :math:`(|V|,)`
        - **output:** knnn_target :math:`(|V|, k, 3)`, knnn_mask :math:`(|V|, k)`
    """

    def __init__(self, k: int = 30, strict_radius: bool = False) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = k
        self.strict_radius = strict_radius

    def forward(self, data: Data) -> Data:
        if getattr(data, "x", None) is None or getattr(data, "order", None) is None:
            raise ValueError(
                "KNNNTargets needs 'x' and 'order'; apply HitFeatures and "
                "HierarchicalRasterScan first"
            )
        coords = data.x[data.order, 1:4]
        target, mask = knnn_targets(coords, self.k, self.strict_radius)
        # Scatter back from serialized order to hit order.
        data.knnn_target = torch.empty_like(target)
        data.knnn_target[data.order] = target
        data.knnn_mask = torch.empty_like(mask)
        data.knnn_mask[data.order] = mask
        return data

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(k={self.k}, strict_radius={self.strict_radius})"


class KNNNObjective(nn.Module):
    r"""Backbone plus a linear head that predicts each hit's k next nearest hits.

    The head predicts the neighbours' coordinates relative to the hit itself,
    :math:`\hat{c}_{ij} = c_i + W h_i`, which carries the same information as
    the absolute coordinates but keeps the regression targets small. The loss is
    the mean squared error over existing neighbours (``knnn_mask``).

    Args:
        backbone (nn.Module): an :class:`~fm4npp_geo.nn.FM4NPPBackbone`.
        k (int): neighbours per hit, as in :class:`KNNNTargets`.
    """

    def __init__(self, backbone: nn.Module, k: int = 30) -> None:
        super().__init__()
        self.backbone = backbone
        self.k = k
        self.head = nn.Linear(backbone.d_model, 3 * k)

    def forward(self, batch: Data) -> Tensor:
        if getattr(batch, "knnn_target", None) is None:
            raise ValueError("batch has no 'knnn_target'; apply KNNNTargets to the events first")
        if batch.knnn_target.size(1) != self.k:
            raise ValueError(
                f"targets were computed for k={batch.knnn_target.size(1)} but the objective "
                f"uses k={self.k}"
            )
        hidden = self.backbone.forward_batch(batch)
        coords = batch.x[:, 1:4]
        prediction = coords.unsqueeze(1) + self.head(hidden).view(-1, self.k, 3)
        mask = batch.knnn_mask.unsqueeze(-1).to(prediction.dtype)
        squared_error = (prediction - batch.knnn_target) ** 2 * mask
        return squared_error.sum() / (3 * mask.sum()).clamp_min(1.0)
