import pytest
import torch

from fm4npp_geo.nn import ssd_chunked, ssd_sequential

CHUNK = 8
LENGTHS = [1, 2, CHUNK - 1, CHUNK, CHUNK + 1, 37]


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


@pytest.mark.parametrize("seqlen", [CHUNK + 1, 37])
@pytest.mark.parametrize("ngroups", [1, 2])
def test_chunked_gradients_match_sequential(seqlen, ngroups):
    inputs = make_inputs(seqlen, ngroups, torch.float64, seed=1)
    inputs.pop("initial_states")
    names = ["x", "dt", "A", "B", "C", "D"]
    weights = torch.randn(inputs["x"].shape, dtype=torch.float64)

    def gradients(scan) -> list[torch.Tensor]:
        leaves = {k: v.clone().requires_grad_() for k, v in inputs.items()}
        y = scan(**leaves, chunk_size=CHUNK)
        (y * weights).sum().backward()
        return [leaves[name].grad for name in names]

    expected = gradients(ssd_sequential)
    actual = gradients(ssd_chunked)

    for name, grad, grad_ref in zip(names, actual, expected):
        assert relative_error(grad, grad_ref) < 1e-10, name


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
