import pytest

from fm4npp_geo.training.sampler import HitBudgetBatches


def test_packs_by_hit_budget_in_index_order():
    batches = HitBudgetBatches([4, 3, 5, 2, 6, 1], max_hits=8, bucket_by_length=False, shuffle=False)
    # 4+3 = 7 (adding 5 would make 12), 5+2 = 7, 6+1 = 7.
    assert batches.global_batches(0) == [[0, 1], [2, 3], [4, 5]]


def test_event_cap_and_both_caps():
    counts = [1] * 7
    assert HitBudgetBatches(counts, max_events=3, bucket_by_length=False, shuffle=False).global_batches(0) == [
        [0, 1, 2], [3, 4, 5], [6],
    ]
    dropped = HitBudgetBatches(counts, max_events=3, bucket_by_length=False, shuffle=False, drop_last=True)
    assert dropped.global_batches(0) == [[0, 1, 2], [3, 4, 5]]
    both = HitBudgetBatches([2, 2, 2, 2, 2], max_hits=5, max_events=3, bucket_by_length=False, shuffle=False)
    assert both.global_batches(0) == [[0, 1], [2, 3], [4]]


def test_oversized_event_gets_own_batch(caplog):
    batches = HitBudgetBatches([2, 50, 3], max_hits=10, bucket_by_length=False, shuffle=False)
    assert batches.global_batches(0) == [[0], [1], [2]]
    assert "1 events have more than max_hits=10 hits" in caplog.text


def test_bucketing_groups_similar_lengths():
    counts = [10, 500, 12, 480, 11, 490]
    batches = HitBudgetBatches(counts, max_events=3, seed=0).global_batches(0)
    assert sorted(sorted(batch) for batch in batches) == [[0, 2, 4], [1, 3, 5]]


def test_epochs_are_deterministic_permutations():
    counts = list(range(1, 41))
    sampler = HitBudgetBatches(counts, max_hits=60, seed=5)
    again = HitBudgetBatches(counts, max_hits=60, seed=5)
    for epoch in range(3):
        batches = sampler.global_batches(epoch)
        assert batches == again.global_batches(epoch)
        assert sorted(i for batch in batches for i in batch) == list(range(40))
        # Each batch stays within the budget unless it contains a single event.
        assert all(sum(counts[i] for i in batch) <= 60 or len(batch) == 1 for batch in batches)
    assert sampler.global_batches(0) != sampler.global_batches(1)
    assert sampler.global_batches(0) != HitBudgetBatches(counts, max_hits=60, seed=6).global_batches(0)


def test_split_across_replicas():
    counts = [5, 9, 1, 7, 3]
    sampler = HitBudgetBatches(counts, max_events=5, num_replicas=2, shuffle=False, bucket_by_length=False)
    batch = sampler.global_batches(0)[0]
    # Dealt in decreasing hit count: 9, 7, 5, 3, 1 -> rank 0 gets 9, 5, 1; rank 1 gets 7, 3.
    assert sampler.split(batch, 0) == [1, 0, 2]
    assert sampler.split(batch, 1) == [3, 4]
    with pytest.raises(ValueError, match=r"rank must be in \[0, 2\), got 2"):
        sampler.split(batch, 2)


def test_every_batch_feeds_every_replica():
    sampler = HitBudgetBatches([100, 1, 1, 100, 1], max_hits=50, num_replicas=2, shuffle=False, bucket_by_length=False)
    batches = sampler.global_batches(0)
    assert all(len(batch) >= 2 for batch in batches)
    assert sorted(i for batch in batches for i in batch) == [0, 1, 2, 3, 4]


def test_locality_keeps_batches_in_groups():
    counts = [3] * 20
    sampler = HitBudgetBatches(counts, max_hits=9, locality=5, seed=1)
    batches = sampler.global_batches(0)
    assert all(len({i // 5 for i in batch}) == 1 for batch in batches)
    groups = [batch[0] // 5 for batch in batches]
    # Each group's batches are consecutive, so a chunk is read once per epoch.
    assert len([g for i, g in enumerate(groups) if i == 0 or g != groups[i - 1]]) == 4


def test_invalid_settings_rejected():
    with pytest.raises(ValueError, match="got neither"):
        HitBudgetBatches([1, 2])
    with pytest.raises(ValueError, match="max_hits must be a whole number >= 1 or None, got 0"):
        HitBudgetBatches([1, 2], max_hits=0)
    with pytest.raises(ValueError, match="max_events=1 cannot give each of the 2 processes an event"):
        HitBudgetBatches([1, 2], max_events=1, num_replicas=2)
    with pytest.raises(ValueError, match="1 events cannot fill a batch for 2 processes"):
        HitBudgetBatches([1], max_hits=4, num_replicas=2)
