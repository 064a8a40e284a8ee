r"""Hungarian matching and set-prediction losses for query-based track finding.

The costs and losses follow Mask2Former (Cheng et al., CVPR 2022) and DETR
(Carion et al., ECCV 2020). The Hungarian algorithm matches every predicted
query one to one to a target track or to "no object", on a weighted sum of a
class cost, a sigmoid focal cost and a dice cost over the hits. Matched
queries learn their track's mask and the "track" class, and the others learn
"no object".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from fm4npp_geo.nn.heads.query_decoder import QueryPrediction


@dataclass(frozen=True)
class MatchingWeights:
    r"""Weights of the matching cost and of the loss terms.

    Args:
        class_weight (float, optional): Class term. (default: :obj:`2.0`)
        focal_weight (float, optional): Sigmoid focal term of the mask.
            (default: :obj:`5.0`)
        dice_weight (float, optional): Dice term of the mask.
            (default: :obj:`5.0`)
        no_object_weight (float, optional): Weight of the "no object" class
            in the classification loss, so that the many unmatched queries do
            not drown the matched ones. (default: :obj:`0.1`)
        focal_alpha (float, optional): Focal-loss balance :math:`\alpha`.
            (default: :obj:`0.25`)
        focal_gamma (float, optional): Focal-loss exponent :math:`\gamma`.
            (default: :obj:`2.0`)
    """

    class_weight: float = 2.0
    focal_weight: float = 5.0
    dice_weight: float = 5.0
    no_object_weight: float = 0.1
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0


def _focal_terms(logits: Tensor, alpha: float,
                 gamma: float) -> tuple[Tensor, Tensor]:
    # Per-entry focal loss if the target were 1 and if it were 0.
    probability = logits.sigmoid()
    positive = (alpha * (1 - probability)**gamma *
                F.binary_cross_entropy_with_logits(
                    logits, torch.ones_like(logits), reduction='none'))
    negative = ((1 - alpha) * probability**gamma *
                F.binary_cross_entropy_with_logits(
                    logits, torch.zeros_like(logits), reduction='none'))
    return positive, negative


def matching_cost(class_logits: Tensor, mask_logits: Tensor,
                  target_masks: Tensor,
                  weights: MatchingWeights) -> Tensor:
    r"""Return the cost of assigning each query to each target track.

    Args:
        class_logits (Tensor): Logits :obj:`[Q, 2]` of one event.
        mask_logits (Tensor): Mask logits :obj:`[Q, N]` over the event's
            hits.
        target_masks (Tensor): Hits of each target track, :obj:`[T, N]`
            float 0 or 1.
        weights (MatchingWeights): Term weights.

    Returns:
        Tensor: :obj:`[Q, T]` costs: minus the "track" probability, the mean
        focal loss over hits and one minus the dice coefficient.
    """
    num_hits = max(mask_logits.shape[1], 1)
    class_cost = -class_logits.softmax(dim=-1)[:, 0:1]
    positive, negative = _focal_terms(mask_logits, weights.focal_alpha,
                                      weights.focal_gamma)
    focal_cost = (positive @ target_masks.T +
                  negative @ (1 - target_masks).T) / num_hits
    probability = mask_logits.sigmoid()
    numerator = 2 * probability @ target_masks.T
    denominator = probability.sum(-1)[:, None] + target_masks.sum(-1)[None, :]
    dice_cost = 1 - (numerator + 1) / (denominator + 1)
    return (weights.class_weight * class_cost +
            weights.focal_weight * focal_cost +
            weights.dice_weight * dice_cost)


@torch.no_grad()
def hungarian_match(cost: Tensor) -> tuple[Tensor, Tensor]:
    r"""Return the (query, target) index pairs of the minimum-cost one-to-one
    assignment of a :obj:`[Q, T]` cost matrix, by
    :func:`scipy.optimize.linear_sum_assignment`. With more targets than
    queries only :obj:`Q` targets are matched."""
    if cost.numel() == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty
    if not torch.isfinite(cost).all():
        raise ValueError("Matching cost contains NaN or inf; check the "
                         "model outputs")
    rows, cols = linear_sum_assignment(cost.detach().cpu().double().numpy())
    return (torch.as_tensor(rows, dtype=torch.long),
            torch.as_tensor(cols, dtype=torch.long))


def target_track_masks(particle_id: Tensor, min_hits: int = 3) -> Tensor:
    r"""Return the target tracks of one event as hit masks :obj:`[T, N]`.

    The targets are the particles with at least :obj:`min_hits` hits. Noise
    (``particle_id == 0``) and smaller particles have no target."""
    ids, counts = torch.unique(particle_id[particle_id > 0],
                               return_counts=True)
    ids = ids[counts >= min_hits]
    return (particle_id[None, :] == ids[:, None]).float()


def set_prediction_loss(prediction: QueryPrediction, padding: Tensor,
                        particle_id: Tensor, weights: MatchingWeights,
                        min_hits: int = 3) -> Tensor:
    r"""Return the mean over events of the matched class, focal and dice
    losses of one decoder stage.

    Args:
        prediction (QueryPrediction): Stage output for :obj:`[B, Q, L]`.
        padding (Tensor): :obj:`[B, L]`, true for padded positions.
        particle_id (Tensor): Truth particle of each position :obj:`[B, L]`
            (any value on padded positions).
        weights (MatchingWeights): Term weights.
        min_hits (int, optional): Smallest particle that is a target track.
            (default: :obj:`3`)
    """
    losses = []
    class_weight = torch.tensor([1.0, weights.no_object_weight],
                                device=prediction.class_logits.device)
    for b in range(padding.shape[0]):
        real = ~padding[b]
        class_logits = prediction.class_logits[b]
        mask_logits = prediction.mask_logits[b][:, real]
        targets = target_track_masks(particle_id[b][real], min_hits)
        cost = matching_cost(class_logits, mask_logits, targets, weights)
        query, target = hungarian_match(cost)

        labels = torch.ones(class_logits.shape[0], dtype=torch.long,
                            device=class_logits.device)
        labels[query] = 0
        loss = weights.class_weight * F.cross_entropy(
            class_logits, labels, weight=class_weight)
        if query.numel() > 0 and mask_logits.shape[1] > 0:
            matched = mask_logits[query]
            goal = targets[target]
            positive, negative = _focal_terms(matched, weights.focal_alpha,
                                              weights.focal_gamma)
            focal = (goal * positive + (1 - goal) * negative).mean()
            probability = matched.sigmoid()
            dice = 1 - (2 * (probability * goal).sum(-1) + 1) / (
                probability.sum(-1) + goal.sum(-1) + 1)
            loss = loss + weights.focal_weight * focal
            loss = loss + weights.dice_weight * dice.mean()
        losses.append(loss)
    return torch.stack(losses).mean()


def warn_if_too_many_tracks(particle_id: Tensor, num_queries: int,
                            min_hits: int = 3) -> int:
    r"""Return the number of target tracks of an event beyond
    :obj:`num_queries`, which the decoder cannot all find."""
    num_tracks = target_track_masks(particle_id, min_hits).shape[0]
    return int(np.maximum(num_tracks - num_queries, 0))
