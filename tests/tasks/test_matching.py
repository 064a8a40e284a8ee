import pytest
import torch

from fm4npp_geo.tasks.matching import (
    MatchingWeights,
    hungarian_match,
    matching_cost,
    target_track_masks,
)


def test_hungarian_on_hand_built_cost():
    # The cheapest one-to-one assignment is q0-t2, q1-t0, q3-t1 with total
    # 1 + 2 + 1 = 4; the greedy row-by-row choice (q0-t2, q1-t0, q2-t1) costs
    # 1 + 2 + 3 = 6.
    cost = torch.tensor([
        [9.0, 8.0, 1.0],
        [2.0, 9.0, 9.0],
        [9.0, 3.0, 9.0],
        [9.0, 1.0, 9.0],
    ])
    query, target = hungarian_match(cost)

    assert query.tolist() == [0, 1, 3]
    assert target.tolist() == [2, 0, 1]
    assert cost[query, target].sum().item() == 4.0


def test_hungarian_more_targets_than_queries():
    cost = torch.tensor([[1.0, 0.0, 5.0]])
    query, target = hungarian_match(cost)

    assert query.tolist() == [0]
    assert target.tolist() == [1]


def test_hungarian_empty_and_nan():
    query, target = hungarian_match(torch.zeros(4, 0))
    assert query.numel() == 0
    assert target.numel() == 0
    with pytest.raises(ValueError, match='NaN or inf'):
        hungarian_match(torch.tensor([[float('nan')]]))


def test_targets_skip_noise_and_short_particles():
    particle_id = torch.tensor([0, 3, 3, 3, 7, 7, 0, 3])
    masks = target_track_masks(particle_id, min_hits=3)

    assert masks.tolist() == [[0, 1, 1, 1, 0, 0, 0, 1]]


def test_matching_cost_prefers_right_mask():
    # Query 0 predicts hits {0, 1}, query 1 predicts {2, 3}; target 0 is
    # {2, 3}, so query 1 is cheaper for it.
    mask_logits = torch.tensor([[8.0, 8.0, -8.0, -8.0], [-8.0, -8.0, 8.0, 8.0]])
    class_logits = torch.zeros(2, 2)
    targets = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    cost = matching_cost(class_logits, mask_logits, targets, MatchingWeights())

    assert cost.shape == (2, 1)
    assert cost[1, 0] < cost[0, 0]
    # A confident, correct mask has focal and dice costs near 0, leaving the
    # class cost: weight 2 times minus the track probability 0.5.
    assert cost[1, 0].item() == pytest.approx(-1.0, abs=0.01)
    assert cost[0, 0].item() > 4.0
