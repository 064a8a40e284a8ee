"""The k-next-nearest-neighbour (k-NNN) pretraining objective of FM4NPP."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from fm4npp_geo.pretrain.neighbors import next_nearest_indices

#: Columns of ``x`` written by :class:`~fm4npp_geo.transforms.HitFeatures` that
#: hold the scaled (eta, phi, r).
COORDINATE_COLUMNS = (1, 2, 3)


def knnn_targets(
    coords: Tensor, k: int, strict_radius: bool = False, workers: int = 1
) -> tuple[Tensor, Tensor]:
    r"""Find, for every hit, its k nearest hits among the hits that come after it.

    ``coords`` are in serialized order. A candidate of hit :math:`i` is any hit
    :math:`j > i` in that order or, with ``strict_radius``, any hit with a
    strictly larger radius (the last column of ``coords``), which is how FM4NPP
    (arXiv 2508.14087) defines the next neighbours. Candidates are ranked by
    Euclidean distance in ``coords``, nearest first, ties by smaller index.
    Hits with fewer than k candidates get zero-padded targets that ``mask``
    marks as missing.

    The search uses KD-trees (:mod:`scipy.spatial`) in at most O(N k log^2 N)
    time and O(N k) memory, never an N x N matrix. Distances are compared in
    float64, and ties are resolved exactly (see
    :mod:`fm4npp_geo.pretrain.neighbors`).

    Args:
        coords (Tensor): hit coordinates in serialized order, r last, [N, D].
        k (int): neighbours per hit.
        strict_radius (bool, optional): candidates are hits with larger r instead
            of later hits. (default: :obj:`False`)
        workers (int, optional): threads of the KD-tree queries, -1 for all
            cores. (default: :obj:`1`)

    Returns:
        targets :math:`(N, k, D)`, the neighbours' coordinates in the dtype of
        ``coords``, and mask :math:`(N, k)` bool, true where a neighbour exists.

    Raises:
        ValueError: ``k`` is below 1, or ``coords`` is not 2-D or not finite.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a whole number >= 1, got {k!r}")
    if coords.dim() != 2 or coords.size(1) < 1:
        raise ValueError(f"coords must have shape [num_hits, dims], got {tuple(coords.shape)}")
    num_hits = coords.size(0)
    if num_hits == 0:
        return coords.new_zeros(0, k, coords.size(1)), torch.zeros(0, k, dtype=torch.bool, device=coords.device)
    if not bool(torch.isfinite(coords).all()):
        raise ValueError("coords must be finite, got NaN or infinite values")

    points = np.ascontiguousarray(coords.detach().cpu().double().numpy())
    neighbors, count = next_nearest_indices(points, k, strict_radius, workers)
    neighbors = torch.from_numpy(neighbors).to(coords.device)
    mask = torch.arange(k, device=coords.device) < torch.from_numpy(count).to(coords.device).unsqueeze(1)
    targets = torch.where(mask.unsqueeze(-1), coords.detach()[neighbors], coords.new_zeros(()))
    return targets, mask


class KNNNTargets(BaseTransform):
    r"""Precompute the k-NNN pretraining targets of an event, in hit order.

    Reads ``x`` (the scaled eta, phi, r are columns 1 to 3, as written by
    :class:`~fm4npp_geo.transforms.HitFeatures`) and ``order``. Writes
    ``knnn_target``, the coordinates of each hit's k next nearest neighbours
    along the serialized sequence (see :func:`knnn_targets`), and ``knnn_mask``.
    A :class:`~torch_geometric.data.Batch` is handled event by event.

    Args:
        k (int, optional): neighbours per hit. (default: :obj:`30`, the best value
            among 1, 5 and 30 in FM4NPP)
        strict_radius (bool, optional): see :func:`knnn_targets`.
            (default: :obj:`False`)

    Shapes:
        - **input:** x :math:`(|V|, 4)`, order :math:`(|V|,)`
        - **output:** knnn_target :math:`(|V|, k, 3)`, knnn_mask :math:`(|V|, k)`
    """

    def __init__(self, k: int = 30, strict_radius: bool = False) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a whole number >= 1, got {k!r}")
        self.k = k
        self.strict_radius = strict_radius

    def forward(self, data: Data) -> Data:
        if getattr(data, "x", None) is None or getattr(data, "order", None) is None:
            raise ValueError(
                "KNNNTargets needs 'x' and 'order'; apply HitFeatures and "
                "HierarchicalRasterScan first"
            )
        x, order = data.x, data.order
        ptr = getattr(data, "ptr", None)
        if ptr is None:
            ptr = torch.tensor([0, x.size(0)])
        data.knnn_target = x.new_zeros(x.size(0), self.k, len(COORDINATE_COLUMNS))
        data.knnn_mask = torch.zeros(x.size(0), self.k, dtype=torch.bool, device=x.device)
        for first, last in zip(ptr[:-1].tolist(), ptr[1:].tolist()):
            # Targets come out in serialized order; scatter them back to hit order.
            hits = first + order[first:last]
            target, mask = knnn_targets(x[hits][:, list(COORDINATE_COLUMNS)], self.k, self.strict_radius)
            data.knnn_target[hits] = target
            data.knnn_mask[hits] = mask
        return data

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(k={self.k}, strict_radius={self.strict_radius})"


class KNextNearestNeighbors(nn.Module):
    r"""The k-NNN pretraining objective: a backbone plus a linear head that
    predicts each hit's k next nearest hits (FM4NPP, arXiv 2508.14087).

    The head predicts the neighbours' coordinates relative to the hit itself,
    :math:`\hat{c}_{ij} = c_i + (W h_i)_j`, which carries the same information
    as the absolute coordinates but keeps the regression targets small. The
    loss is the mean squared error over existing neighbours (``knnn_mask``),

    .. math::
        \mathcal{L} = \frac{\sum_e w_e \sum_{i \in e} \sum_j m_{ij}
        \lVert \hat{c}_{ij} - c_{ij} \rVert^2}{3 \sum_e w_e \sum_{i \in e} \sum_j m_{ij}},

    where the event weight :math:`w_e` is 1, or the entry of ``bin_weights``
    for the event's hit count when ``hit_count_bins`` is given.

    Args:
        backbone (nn.Module): an :class:`~fm4npp_geo.nn.FM4NPPBackbone`.
        k (int, optional): neighbours per hit, as in :class:`KNNNTargets`.
            (default: :obj:`30`)
        hit_count_bins (sequence of int, optional): increasing hit-count edges;
            an event with ``n`` hits falls in bin ``i`` when
            ``bins[i - 1] <= n < bins[i]``. (default: :obj:`None`, no weights)
        bin_weights (sequence of float, optional): one non-negative weight per
            bin, ``len(hit_count_bins) + 1`` values. (default: :obj:`None`)
    """

    def __init__(
        self,
        backbone: nn.Module,
        k: int = 30,
        hit_count_bins: Sequence[int] | None = None,
        bin_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a whole number >= 1, got {k!r}")
        if (hit_count_bins is None) != (bin_weights is None):
            raise ValueError("hit_count_bins and bin_weights must be given together")
        self.backbone = backbone
        self.k = k
        self.head = nn.Linear(backbone.d_model, 3 * k)
        self.hit_count_bins: Tensor | None = None
        self.bin_weights: Tensor | None = None
        if hit_count_bins is not None:
            bins = torch.as_tensor(list(hit_count_bins), dtype=torch.long)
            weights = torch.as_tensor(list(bin_weights), dtype=torch.float32)
            if weights.numel() != bins.numel() + 1:
                raise ValueError(
                    f"bin_weights needs len(hit_count_bins) + 1 = {bins.numel() + 1} values, got {weights.numel()}"
                )
            if bins.numel() > 1 and not bool((bins[1:] > bins[:-1]).all()):
                raise ValueError(f"hit_count_bins must be strictly increasing, got {bins.tolist()}")
            if not bool((weights >= 0).all()):
                raise ValueError(f"bin_weights must be non-negative, got {weights.tolist()}")
            self.hit_count_bins, self.bin_weights = bins, weights

    def _hit_weights(self, batch: Data, num_hits: int, device: torch.device) -> Tensor | None:
        if self.hit_count_bins is None:
            return None
        ptr = getattr(batch, "ptr", None)
        event = getattr(batch, "batch", None)
        if ptr is None or event is None:
            ptr = torch.tensor([0, num_hits], device=device)
            event = torch.zeros(num_hits, dtype=torch.long, device=device)
        bins = torch.bucketize(ptr[1:] - ptr[:-1], self.hit_count_bins.to(device), right=True)
        return self.bin_weights.to(device)[bins][event]

    def loss_terms(self, batch: Data) -> tuple[Tensor, Tensor]:
        """Return the numerator and the denominator of the loss for ``batch``.

        Data-parallel training sums both over processes before dividing, so the
        loss equals that of one process holding every event.

        Returns:
            The weighted sum of squared errors (with gradient) and the weighted
            number of target coordinates (without gradient), both float32 scalars.
        """
        if getattr(batch, "knnn_target", None) is None or getattr(batch, "knnn_mask", None) is None:
            raise ValueError("batch has no 'knnn_target' or 'knnn_mask'; apply KNNNTargets to the events first")
        if batch.knnn_target.size(1) != self.k:
            raise ValueError(
                f"targets were computed for k={batch.knnn_target.size(1)} but the objective uses k={self.k}"
            )
        hidden = self.backbone.forward_batch(batch)
        coords = batch.x[:, list(COORDINATE_COLUMNS)].float()
        prediction = coords.unsqueeze(1) + self.head(hidden).float().view(-1, self.k, 3)
        mask = batch.knnn_mask.to(prediction.dtype)
        squared_error = ((prediction - batch.knnn_target.float()) ** 2).sum(-1) * mask

        weights = self._hit_weights(batch, coords.size(0), coords.device)
        if weights is not None:
            squared_error = squared_error * weights.unsqueeze(-1)
            mask = mask * weights.unsqueeze(-1)
        return squared_error.sum(), 3 * mask.sum().detach()

    def forward(self, batch: Data, reduce: bool = True) -> Tensor | tuple[Tensor, Tensor]:
        """Return the loss of ``batch``, a float32 scalar (0 when no hit has a neighbour).

        With ``reduce=False``, return the pair of :meth:`loss_terms` instead,
        which lets a data-parallel trainer call the objective through its
        wrapper.
        """
        total, count = self.loss_terms(batch)
        if not reduce:
            return total, count
        # With no target at all the sum is 0 too, so the loss is 0.
        return total / count.clamp_min(torch.finfo(count.dtype).tiny)
