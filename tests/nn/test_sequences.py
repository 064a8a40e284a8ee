import pytest
import torch

from fm4npp_geo.nn import reversal_index, reverse_sequences, seq_idx_from_mask


def test_reversal_index_by_hand():
    seq_idx = torch.tensor([[0, 0, 0, 1, 1, 2], [7, 7, 7, 7, 7, 7]])

    index = reversal_index(seq_idx)

    assert index.tolist() == [[2, 1, 0, 4, 3, 5], [5, 4, 3, 2, 1, 0]]


def test_reversal_index_is_an_involution():
    seq_idx = torch.tensor([[0, 1, 1, 1, 2, 2, 2, 2, 3]])
    h = torch.randn(1, 9, 3)

    index = reversal_index(seq_idx)

    torch.testing.assert_close(reverse_sequences(reverse_sequences(h, index), index), h)
    torch.testing.assert_close(reverse_sequences(h, index)[0, 1:4], h[0, 1:4].flip(0))


def test_reversal_index_empty_rows():
    assert reversal_index(torch.zeros(2, 0, dtype=torch.long)).shape == (2, 0)


def test_reverse_sequences_without_index_flips_rows():
    h = torch.arange(6.0).reshape(1, 3, 2)

    assert reverse_sequences(h, None)[0, :, 0].tolist() == [4.0, 2.0, 0.0]


def test_seq_idx_from_mask():
    mask = torch.tensor([[True, True, False], [True, True, True]])

    assert seq_idx_from_mask(mask).tolist() == [[0, 0, 1], [0, 0, 0]]


def test_seq_idx_from_mask_rejects_left_padding():
    with pytest.raises(ValueError, match="right padding"):
        seq_idx_from_mask(torch.tensor([[False, True, True]]))
    with pytest.raises(ValueError, match=r"boolean mask of shape \(batch, L\), got dtype torch.int64"):
        seq_idx_from_mask(torch.ones(1, 3, dtype=torch.long))
