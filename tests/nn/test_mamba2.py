import io

import pytest
import torch
import torch.nn.functional as F

from fm4npp_geo.nn import Mamba2, ssd_chunked, ssd_sequential

# d_inner = 64, nheads = 4, conv channels = 64 + 2 * 2 * 8 = 96
CONFIG = dict(d_model=32, d_state=8, d_conv=4, expand=2, headdim=16, ngroups=2, chunk_size=4)


def make_layer(seed: int = 0, **overrides) -> Mamba2:
    torch.manual_seed(seed)
    return Mamba2(**{**CONFIG, **overrides})


def test_state_dict_matches_mamba_ssm_layout():
    layer = make_layer()
    shapes = {name: tuple(t.shape) for name, t in layer.state_dict().items()}

    # Names and shapes of mamba_ssm.modules.mamba2.Mamba2 for this config:
    # in_proj rows are [z (64), x (64), B (16), C (16), dt (4)] = 164.
    assert shapes == {
        "in_proj.weight": (164, 32),
        "conv1d.weight": (96, 1, 4),
        "conv1d.bias": (96,),
        "dt_bias": (4,),
        "A_log": (4,),
        "D": (4,),
        "norm.weight": (64,),
        "out_proj.weight": (32, 64),
    }


def test_initialization_ranges():
    layer = make_layer(dt_min=0.001, dt_max=0.1, A_init_range=(1, 16))

    dt = F.softplus(layer.dt_bias)
    A = -torch.exp(layer.A_log)
    assert bool(((dt >= 0.001 * (1 - 1e-5)) & (dt <= 0.1 * (1 + 1e-5))).all())
    assert bool(((A <= -1.0) & (A >= -16.0)).all())
    assert torch.equal(layer.D.data, torch.ones(4))
    assert torch.equal(layer.norm.weight.data, torch.ones(64))
    assert layer.A_log._no_weight_decay


def reference_forward(layer: Mamba2, u: torch.Tensor) -> torch.Tensor:
    """Recompute the layer by hand from its weights with the sequential scan."""
    batch, seqlen, _ = u.shape
    d_inner, d_state, ngroups = layer.d_inner, layer.d_state, layer.ngroups
    W = layer.in_proj.weight
    z = u @ W[:d_inner].t()
    xBC = u @ W[d_inner : 2 * d_inner + 2 * ngroups * d_state].t()
    dt = u @ W[2 * d_inner + 2 * ngroups * d_state :].t()

    # Causal convolution written as a sum over the kernel taps.
    kernel = layer.conv1d.weight[:, 0]  # (channels, d_conv)
    conv = layer.conv1d.bias.expand(batch, seqlen, -1).clone()
    for tap in range(layer.d_conv):
        shift = layer.d_conv - 1 - tap
        shifted = F.pad(xBC, (0, 0, shift, 0))[:, :seqlen]
        conv = conv + shifted * kernel[:, tap]
    xBC = F.silu(conv)

    x = xBC[..., :d_inner].reshape(batch, seqlen, layer.nheads, layer.headdim)
    B = xBC[..., d_inner : d_inner + ngroups * d_state].reshape(batch, seqlen, ngroups, d_state)
    C = xBC[..., d_inner + ngroups * d_state :].reshape(batch, seqlen, ngroups, d_state)
    y = ssd_sequential(
        x, F.softplus(dt + layer.dt_bias), -torch.exp(layer.A_log), B, C, D=layer.D
    ).reshape(batch, seqlen, d_inner)

    # Gated RMSNorm per group of d_inner / ngroups channels.
    y = (y * F.silu(z)).reshape(batch, seqlen, ngroups, -1)
    y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + 1e-5)
    y = y.reshape(batch, seqlen, d_inner) * layer.norm.weight
    return y @ layer.out_proj.weight.t()


def test_forward_matches_hand_written_reference():
    layer = make_layer().double()
    with torch.no_grad():
        layer.norm.weight.uniform_(0.5, 1.5)
        layer.D.uniform_(-1.0, 1.0)
    u = torch.randn(2, 11, 32, dtype=torch.float64)

    out = layer(u)
    expected = reference_forward(layer, u)

    assert out.shape == (2, 11, 32)
    assert torch.allclose(out, expected, rtol=1e-10, atol=1e-12)


def test_causal_conv_matches_conv1d_module():
    # Weights loaded from mamba-ssm must act as its padded nn.Conv1d does.
    layer = make_layer()
    xBC = torch.randn(2, 9, 96)

    with torch.no_grad():
        expected = layer.conv1d(xBC.transpose(1, 2))[..., :9].transpose(1, 2)
        actual = layer._causal_conv(xBC)

    assert torch.allclose(actual, expected, rtol=0.0, atol=1e-6)


def test_right_padding_keeps_outputs():
    layer = make_layer()
    short = torch.randn(1, 5, 32)
    other = torch.randn(1, 12, 32)
    padded = torch.cat([F.pad(short, (0, 0, 0, 7)), other], dim=0)  # (2, 12, 32)

    with torch.no_grad():
        alone = layer(short)
        batched = layer(padded)

    assert torch.allclose(batched[0, :5], alone[0], rtol=0.0, atol=1e-6)


def test_output_is_causal():
    layer = make_layer().double()
    u = torch.randn(1, 13, 32, dtype=torch.float64)
    changed = u.clone()
    changed[0, 6] += 1.0

    with torch.no_grad():
        out = layer(u)
        out_changed = layer(changed)

    assert torch.allclose(out_changed[0, :6], out[0, :6], rtol=0.0, atol=1e-12)
    assert not torch.allclose(out_changed[0, 6], out[0, 6])
    assert not torch.allclose(out_changed[0, 12], out[0, 12])


def test_state_dict_round_trip():
    layer = make_layer(seed=1)
    buffer = io.BytesIO()
    torch.save(layer.state_dict(), buffer)
    buffer.seek(0)

    fresh = make_layer(seed=2)
    fresh.load_state_dict(torch.load(buffer), strict=True)
    u = torch.randn(3, 9, 32)

    with torch.no_grad():
        assert torch.equal(fresh(u), layer(u))


def test_backward_reaches_every_parameter():
    layer = make_layer()
    layer(torch.randn(2, 10, 32)).square().mean().backward()

    for name, param in layer.named_parameters():
        assert param.grad is not None, name
        assert bool(torch.isfinite(param.grad).all()), name


def test_bfloat16_autocast_stays_close_to_float32():
    layer = make_layer()
    u = torch.randn(2, 40, 32)

    with torch.no_grad():
        expected = layer(u)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            actual = layer(u)

    assert actual.dtype == torch.bfloat16
    error = (actual.float() - expected).norm() / expected.norm()
    assert error < 5e-2


def test_extra_repr_shows_sizes_and_scan():
    layer = make_layer()
    text = repr(layer)

    assert "d_inner=64" in text
    assert "nheads=4" in text
    assert "scan='auto'" in text
    assert "last forward" not in text

    with torch.no_grad():
        layer(torch.randn(1, 3, 32))
    assert "scan='auto' (last forward: 'torch')" in repr(layer)
    assert "scan='torch'" in repr(make_layer(scan="torch"))


def test_auto_scan_on_cpu_never_loads_fused_kernels(monkeypatch):
    def fail() -> None:
        raise AssertionError("load_fused_kernels called for a CPU tensor")

    monkeypatch.setattr("fm4npp_geo.nn.mamba2.load_fused_kernels", fail)
    layer = make_layer(scan="auto")

    with torch.no_grad():
        out = layer(torch.randn(2, 5, 32))

    assert out.shape == (2, 5, 32)
    assert layer.last_scan == "torch"


def test_fused_scan_on_cpu_raises():
    layer = make_layer(scan="fused")

    with pytest.raises(ValueError, match="scan='fused' needs CUDA tensors, got input on cpu"):
        layer(torch.randn(1, 4, 32))


def test_invalid_scan_raises():
    with pytest.raises(ValueError, match=r"'scan' to be one of .* got 'triton'"):
        make_layer(scan="triton")


# Three sequences of lengths 3, 6 and 1 packed into one row, and a second row
# holding one sequence. Boundaries fall inside and on chunk edges (chunk 4).
SEQ_IDX = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1, 1, 2], [4] * 10])


def test_packed_sequences_equal_separate_runs():
    layer = make_layer().double()
    u = torch.randn(2, 10, 32, dtype=torch.float64)

    with torch.no_grad():
        packed = layer(u, seq_idx=SEQ_IDX)
        for row, start, end in [(0, 0, 3), (0, 3, 9), (0, 9, 10), (1, 0, 10)]:
            alone = layer(u[row : row + 1, start:end])
            torch.testing.assert_close(
                packed[row : row + 1, start:end], alone, rtol=1e-12, atol=1e-12
            )


def test_causal_conv_does_not_cross_sequences():
    layer = make_layer()
    xBC = torch.randn(2, 10, 96)

    with torch.no_grad():
        packed = layer._causal_conv(xBC, SEQ_IDX)
        for row, start, end in [(0, 0, 3), (0, 3, 9), (0, 9, 10), (1, 0, 10)]:
            alone = layer._causal_conv(xBC[row : row + 1, start:end])
            torch.testing.assert_close(packed[row : row + 1, start:end], alone)


def test_packed_gradients_stay_in_their_sequence():
    layer = make_layer().double()
    u = torch.randn(1, 10, 32, dtype=torch.float64, requires_grad=True)

    out = layer(u, seq_idx=SEQ_IDX[:1])
    out[0, 3:9].sum().backward()  # the second sequence only

    assert torch.count_nonzero(u.grad[0, :3]) == 0
    assert torch.count_nonzero(u.grad[0, 9:]) == 0
    assert torch.count_nonzero(u.grad[0, 3:9]) > 0


@pytest.mark.parametrize("lengths", [[1, 4, 5], [3, 8, 9, 12]])
def test_right_padding_is_invisible_float64(lengths):
    # Lengths around the chunk size 4: each real position gets its alone output.
    layer = make_layer().double()
    max_len = max(lengths)
    sequences = [torch.randn(n, 32, dtype=torch.float64) for n in lengths]
    padded = torch.stack([F.pad(seq, (0, 0, 0, max_len - len(seq)), value=3.0) for seq in sequences])

    with torch.no_grad():
        batched = layer(padded)
        for row, seq in enumerate(sequences):
            alone = layer(seq.unsqueeze(0))[0]
            torch.testing.assert_close(batched[row, : len(seq)], alone, rtol=1e-12, atol=1e-12)


def test_bfloat16_autocast_keeps_scan_in_float32(monkeypatch):
    seen_dtypes = []
    original = ssd_chunked

    def recording_scan(x, dt, *args, **kwargs):
        seen_dtypes.append((x.dtype, dt.dtype))
        return original(x, dt, *args, **kwargs)

    monkeypatch.setattr("fm4npp_geo.nn.mamba2.ssd_chunked", recording_scan)
    layer = make_layer()

    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(torch.randn(2, 12, 32))

    assert out.dtype == torch.bfloat16
    assert seen_dtypes == [(torch.float32, torch.float32)]


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(d_model=24, headdim=32), r"d_inner = expand \* d_model = 2 \* 24 = 48 .* headdim=32"),
        (dict(ngroups=3), r"nheads = d_inner / headdim = 4 is not divisible by ngroups=3"),
        (dict(d_state=0), r"positive integer 'd_state', got 0"),
        (dict(chunk_size=-8), r"positive integer 'chunk_size', got -8"),
        (dict(dt_min=0.2, dt_max=0.1), r"dt_min=0.2 and dt_max=0.1"),
        (dict(A_init_range=(0, 16)), r"A_init_range=\(0, 16\)"),
    ],
)
def test_invalid_arguments_raise(overrides, message):
    with pytest.raises(ValueError, match=message):
        Mamba2(**{**CONFIG, **overrides})


def test_wrong_input_width_raises():
    with pytest.raises(ValueError, match=r"shape \(batch, L, 32\), got \(2, 5, 16\)"):
        make_layer()(torch.randn(2, 5, 16))
