import pytest
import torch
import torch.nn.functional as F

from fm4npp_geo.nn import Mamba2Block, reversal_index, seq_idx_from_mask

CONFIG = dict(d_state=4, headdim=8, chunk_size=4)


def make_block(bidirectional: bool, seed: int = 0) -> Mamba2Block:
    torch.manual_seed(seed)
    return Mamba2Block(16, bidirectional=bidirectional, **CONFIG).double().eval()


def test_unidirectional_block_has_mamba_ssm_names():
    names = set(make_block(False).state_dict())

    assert "norm.weight" in names
    assert "mixer.in_proj.weight" in names
    assert not any(name.startswith("mixer_reverse") for name in names)


def test_bidirectional_block_sees_later_positions():
    block = make_block(True)
    h = torch.randn(1, 9, 16, dtype=torch.float64)
    changed = h.clone()
    changed[0, 6] += 1.0

    with torch.no_grad():
        out, out_changed = block(h), block(changed)

    assert "mixer_reverse.in_proj.weight" in block.state_dict()
    assert not torch.allclose(out[0, 0], out_changed[0, 0])


def test_bidirectional_block_is_sum_of_both_scans():
    block = make_block(True)
    h = torch.randn(2, 7, 16, dtype=torch.float64)

    with torch.no_grad():
        normed = block.norm(h)
        expected = h + block.mixer(normed) + block.mixer_reverse(normed.flip(1)).flip(1)
        actual = block(h)

    torch.testing.assert_close(actual, expected, rtol=1e-12, atol=1e-12)


def test_bidirectional_packed_sequences_stay_apart():
    block = make_block(True)
    seq_idx = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1, 1, 2]])
    h = torch.randn(1, 10, 16, dtype=torch.float64)

    with torch.no_grad():
        packed = block(h, seq_idx=seq_idx, reverse_index=reversal_index(seq_idx))
        for start, end in [(0, 3), (3, 9), (9, 10)]:
            alone = block(h[:, start:end])
            torch.testing.assert_close(packed[:, start:end], alone, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_rows_match_alone(bidirectional):
    block = make_block(bidirectional)
    lengths = [3, 9, 6]
    sequences = [torch.randn(n, 16, dtype=torch.float64) for n in lengths]
    padded = torch.stack([F.pad(s, (0, 0, 0, 9 - len(s)), value=-2.0) for s in sequences])
    mask = torch.arange(9) < torch.tensor(lengths).unsqueeze(1)

    with torch.no_grad():
        batched = block(padded, reverse_index=reversal_index(seq_idx_from_mask(mask)))
        for row, seq in enumerate(sequences):
            alone = block(seq.unsqueeze(0))[0]
            torch.testing.assert_close(batched[row, : len(seq)], alone, rtol=1e-12, atol=1e-12)


def test_invalid_dropout_raises():
    with pytest.raises(ValueError, match="0 <= dropout < 1, got dropout=1.5"):
        Mamba2Block(16, dropout=1.5, **CONFIG)
