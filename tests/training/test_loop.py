import torch

from fm4npp_geo.training.loop import _epoch_batches


def test_bucketed_batches_group_similar_lengths():
    lengths = torch.tensor([10, 500, 12, 480, 11, 490])
    batches = _epoch_batches(lengths, 3, True, torch.Generator().manual_seed(0))
    assert sorted(sorted(b) for b in batches) == [[0, 2, 4], [1, 3, 5]]


def test_epoch_covers_each_event_once():
    lengths = torch.arange(10)
    batches = _epoch_batches(lengths, 4, False, torch.Generator().manual_seed(1))
    flat = [i for batch in batches for i in batch]
    assert len(batches) == 2
    assert len(set(flat)) == 8
