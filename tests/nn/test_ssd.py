import pytest
import torch

from fm4npp_geo.nn import ssd_chunked, ssd_sequential

CHUNK = 8
# 1, 2, chunk - 1, chunk, chunk + 1, and long odd lengths of several chunks.
LENGTHS = [1, 2, CHUNK - 1, CHUNK, CHUNK + 1, 37, 301]


def make_inputs(
    seqlen: int,
    ngroups: int,
    dtype: torch.dtype,
    batch: int = 2,
    nheads: int = 4,
    headdim: int = 3,
    d_state: int = 5,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=dtype)

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, dtype=dtype)

    return dict(
        x=randn(batch, seqlen, nheads, headdim),
        dt=0.01 + 0.5 * rand(batch, seqlen, nheads),
        A=-(0.1 + 3.0 * rand(nheads)),
        B=randn(batch, seqlen, ngroups, d_state),
        C=randn(batch, seqlen, ngroups, d_state),
        D=randn(nheads),
        initial_states=randn(batch, nheads, headdim, d_state),
    )


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return ((actual - expected).norm() / expected.norm()).item()


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("seqlen", LENGTHS)
@pytest.mark.parametrize("ngroups", [1, 2])
@pytest.mark.parametrize("use_D", [False, True])
def test_chunked_matches_sequential(dtype, tolerance, seqlen, ngroups, use_D):
    inputs = make_inputs(seqlen, ngroups, dtype)
    inputs.pop("initial_states")
    if not use_D:
        inputs.pop("D")

    expected = ssd_sequential(**inputs, chunk_size=CHUNK)
    actual = ssd_chunked(**inputs, chunk_size=CHUNK)

    assert actual.shape == inputs["x"].shape
    assert actual.dtype == dtype
    assert relative_error(actual, expected) < tolerance


@pytest.mark.parametrize("seqlen", [CHUNK - 1, 37])
def test_chunked_initial_and_final_state(seqlen):
    inputs = make_inputs(seqlen, ngroups=2, dtype=torch.float64)

    y_ref, state_ref = ssd_sequential(**inputs, chunk_size=CHUNK, return_final_state=True)
    y, state = ssd_chunked(**inputs, chunk_size=CHUNK, return_final_state=True)

    assert state.shape == (2, 4, 3, 5)
    assert relative_error(y, y_ref) < 1e-10
    assert relative_error(state, state_ref) < 1e-10


def test_chunked_state_carries_over_split():
    # Scanning a sequence in two parts, passing the state on, equals one scan.
    inputs = make_inputs(21, ngroups=1, dtype=torch.float64)
    inputs.pop("initial_states")
    whole = ssd_chunked(**inputs, chunk_size=CHUNK)

    first = {k: v[:, :10] if v.dim() > 1 else v for k, v in inputs.items()}
    second = {k: v[:, 10:] if v.dim() > 1 else v for k, v in inputs.items()}
    y_first, state = ssd_chunked(**first, chunk_size=CHUNK, return_final_state=True)
    y_second = ssd_chunked(**second, chunk_size=CHUNK, initial_states=state)

    assert relative_error(torch.cat([y_first, y_second], dim=1), whole) < 1e-10


def test_sequential_single_step_by_hand():
    # One position, one head, headdim 1, d_state 2: y = C . (dt * x * B) + D * x.
    x = torch.tensor([[[[2.0]]]], dtype=torch.float64)
    dt = torch.tensor([[[0.5]]], dtype=torch.float64)
    A = torch.tensor([-1.0], dtype=torch.float64)
    B = torch.tensor([[[[1.0, 3.0]]]], dtype=torch.float64)
    C = torch.tensor([[[[4.0, -1.0]]]], dtype=torch.float64)
    D = torch.tensor([0.25], dtype=torch.float64)

    # The state is 0.5 * 2 * [1, 3] = [1, 3], so y = 4 * 1 - 1 * 3 + 0.25 * 2 = 1.5.
    y_ref = ssd_sequential(x, dt, A, B, C, D=D)
    y = ssd_chunked(x, dt, A, B, C, chunk_size=4, D=D)

    assert y_ref.item() == pytest.approx(1.5)
    assert y.item() == pytest.approx(1.5)


def test_sequential_decay_by_hand():
    # Two positions with x_2 = 0: y_2 = exp(dt_2 * A) * y_1 when D is absent.
    x = torch.tensor([[[[1.0]], [[0.0]]]], dtype=torch.float64)
    dt = torch.tensor([[[1.0], [0.5]]], dtype=torch.float64)
    A = torch.tensor([-2.0], dtype=torch.float64)
    B = torch.ones(1, 2, 1, 1, dtype=torch.float64)
    C = torch.ones(1, 2, 1, 1, dtype=torch.float64)

    y = ssd_chunked(x, dt, A, B, C, chunk_size=1)

    assert y[0, 0].item() == pytest.approx(1.0)
    assert y[0, 1].item() == pytest.approx(torch.exp(torch.tensor(-1.0)).item())


def scan_gradients(scan, inputs: dict, weights: torch.Tensor, **kwargs) -> dict:
    leaves = {
        k: v.clone().requires_grad_() if v.is_floating_point() else v
        for k, v in inputs.items()
    }
    y = scan(**leaves, chunk_size=CHUNK, **kwargs)
    (y * weights).sum().backward()
    return {k: v.grad for k, v in leaves.items() if v.is_floating_point()}


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("seqlen", LENGTHS)
@pytest.mark.parametrize("ngroups", [1, 2])
def test_chunked_gradients_match_sequential(dtype, tolerance, seqlen, ngroups):
    inputs = make_inputs(seqlen, ngroups, dtype, seed=1)
    generator = torch.Generator().manual_seed(2)
    weights = torch.randn(inputs["x"].shape, generator=generator, dtype=dtype)

    expected = scan_gradients(ssd_sequential, inputs, weights)
    actual = scan_gradients(ssd_chunked, inputs, weights)

    assert sorted(actual) == ["A", "B", "C", "D", "dt", "initial_states", "x"]
    for name, grad in actual.items():
        assert relative_error(grad, expected[name]) < tolerance, name


def test_chunked_bfloat16_accumulates_in_float32():
    # A long bf16 sequence: with bf16 sums the error would grow with the length.
    # In float32 only the final rounding of y to bf16 (2^-9 relative) remains.
    inputs = make_inputs(2000, ngroups=1, dtype=torch.bfloat16, batch=1, seed=3)
    inputs.pop("initial_states")
    inputs["dt"] = 0.01 * inputs["dt"]  # slow decay: long memory
    exact = {k: v.double() for k, v in inputs.items()}

    expected = ssd_sequential(**exact)
    actual = ssd_chunked(**inputs, chunk_size=64)

    assert actual.dtype == torch.bfloat16
    assert relative_error(actual.double(), expected) < 4e-3


def test_chunked_under_autocast_matches_float32():
    inputs = make_inputs(50, ngroups=2, dtype=torch.float32)
    expected = ssd_chunked(**inputs, chunk_size=CHUNK)

    with torch.autocast("cpu", dtype=torch.bfloat16):
        actual = ssd_chunked(**inputs, chunk_size=CHUNK)

    # Autocast is switched off inside, so float32 inputs stay float32.
    assert actual.dtype == torch.float32
    assert torch.equal(actual, expected)


def test_chunked_half_precision_returns_input_dtype():
    inputs = make_inputs(19, ngroups=1, dtype=torch.float32)
    inputs.pop("initial_states")
    expected = ssd_sequential(**inputs, chunk_size=CHUNK)

    half = dict(inputs, x=inputs["x"].bfloat16(), B=inputs["B"].bfloat16())
    half["C"] = inputs["C"].bfloat16()
    actual = ssd_chunked(**half, chunk_size=CHUNK)

    assert actual.dtype == torch.bfloat16
    assert relative_error(actual.float(), expected) < 2e-2


def test_chunked_empty_sequence():
    inputs = make_inputs(0, ngroups=1, dtype=torch.float32)
    y, state = ssd_chunked(**inputs, chunk_size=CHUNK, return_final_state=True)

    assert y.shape == (2, 0, 4, 3)
    assert torch.equal(state, inputs["initial_states"])


def test_chunked_rejects_bad_shapes():
    inputs = make_inputs(5, ngroups=1, dtype=torch.float32)
    inputs.pop("initial_states")

    with pytest.raises(ValueError, match=r"'dt' of shape \(2, 5, 4\)"):
        ssd_chunked(**dict(inputs, dt=inputs["dt"][:, :4]), chunk_size=CHUNK)
    with pytest.raises(ValueError, match="nheads=4 is not divisible by ngroups=3"):
        B = torch.randn(2, 5, 3, 5)
        ssd_chunked(**dict(inputs, B=B, C=B), chunk_size=CHUNK)
    with pytest.raises(ValueError, match="positive 'chunk_size', got 0"):
        ssd_chunked(**inputs, chunk_size=0)


# Runs of one sequence index, with boundaries inside chunks, on chunk edges
# (positions 8, 16) and a run of length 1.
SEQ_IDX_ROWS = [
    [0] * 3 + [1] * 5 + [2] * 8 + [3] + [4] * 20,
    [5] * 16 + [7] * 1 + [9] * 20,
]


def packed_seq_idx() -> torch.Tensor:
    return torch.tensor(SEQ_IDX_ROWS)


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("ngroups", [1, 2])
def test_chunked_seq_idx_matches_sequential(dtype, tolerance, ngroups):
    seq_idx = packed_seq_idx()
    inputs = make_inputs(seq_idx.shape[1], ngroups, dtype, seed=4)

    y_ref, state_ref = ssd_sequential(**inputs, seq_idx=seq_idx, return_final_state=True)
    y, state = ssd_chunked(
        **inputs, chunk_size=CHUNK, seq_idx=seq_idx, return_final_state=True
    )

    assert relative_error(y, y_ref) < tolerance
    assert relative_error(state, state_ref) < tolerance


def test_chunked_seq_idx_equals_separate_sequences():
    seq_idx = packed_seq_idx()
    inputs = make_inputs(seq_idx.shape[1], ngroups=2, dtype=torch.float64, seed=5)
    inputs.pop("initial_states")

    packed = ssd_chunked(**inputs, chunk_size=CHUNK, seq_idx=seq_idx)

    for row in range(seq_idx.shape[0]):
        for value in seq_idx[row].unique().tolist():
            positions = (seq_idx[row] == value).nonzero().flatten()
            part = slice(positions[0].item(), positions[-1].item() + 1)
            alone = {
                k: v[row : row + 1, part] if v.dim() > 1 else v for k, v in inputs.items()
            }
            expected = ssd_chunked(**alone, chunk_size=CHUNK)
            torch.testing.assert_close(
                packed[row : row + 1, part], expected, rtol=1e-12, atol=1e-12
            )


def test_chunked_seq_idx_initial_state_scope():
    seq_idx = packed_seq_idx()
    inputs = make_inputs(seq_idx.shape[1], ngroups=1, dtype=torch.float64, seed=6)
    without_initial = dict(inputs, initial_states=None)

    y = ssd_chunked(**inputs, chunk_size=CHUNK, seq_idx=seq_idx)
    y_zero = ssd_chunked(**without_initial, chunk_size=CHUNK, seq_idx=seq_idx)

    # The initial state reaches the first sequence of each row and no other.
    first_run = seq_idx == seq_idx[:, :1]  # (b, L)
    assert not torch.allclose(y[first_run], y_zero[first_run])
    torch.testing.assert_close(y[~first_run], y_zero[~first_run], rtol=0.0, atol=0.0)


def test_chunked_seq_idx_gradients_match_sequential():
    seq_idx = packed_seq_idx()
    inputs = make_inputs(seq_idx.shape[1], ngroups=2, dtype=torch.float64, seed=7)
    inputs["seq_idx"] = seq_idx
    weights = torch.randn(inputs["x"].shape, dtype=torch.float64)

    expected = scan_gradients(ssd_sequential, inputs, weights)
    actual = scan_gradients(ssd_chunked, inputs, weights)

    for name, grad in actual.items():
        assert relative_error(grad, expected[name]) < 1e-10, name


def test_chunked_rejects_bad_seq_idx():
    inputs = make_inputs(5, ngroups=1, dtype=torch.float32)

    with pytest.raises(ValueError, match=r"'seq_idx' of shape \(2, 5\), got \(2, 4\)"):
        ssd_chunked(**inputs, chunk_size=CHUNK, seq_idx=torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="integer 'seq_idx', got dtype torch.float32"):
        ssd_chunked(**inputs, chunk_size=CHUNK, seq_idx=torch.zeros(2, 5))
    with pytest.raises(ValueError, match="non-decreasing"):
        decreasing = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 0, 1, 1]])
        ssd_chunked(**inputs, chunk_size=CHUNK, seq_idx=decreasing)
