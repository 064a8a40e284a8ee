"""The lazy fused-kernel loader and the fused path's plumbing, with stand-in kernels on CPU."""

import types
import warnings

import pytest
import torch
import torch.nn.functional as F

from fm4npp_geo.nn import Mamba2, kernels, ssd_sequential
from fm4npp_geo.nn.kernels import FusedKernels


@pytest.fixture
def fresh_loader(monkeypatch):
    monkeypatch.setattr(kernels, "_attempted", False)
    monkeypatch.setattr(kernels, "_kernels", None)
    monkeypatch.setattr(kernels, "_error", None)
    monkeypatch.setattr(kernels, "_fallback_warned", False)


def test_loader_reports_missing_mamba_ssm_once(monkeypatch, fresh_loader):
    calls = []

    def missing(name: str):
        calls.append(name)
        raise ImportError(f"No module named '{name.split('.')[0]}'")

    monkeypatch.setattr(kernels.importlib, "import_module", missing)

    assert kernels.load_fused_kernels() is None
    assert kernels.load_fused_kernels() is None
    assert calls == ["mamba_ssm.ops.triton.ssd_combined"]
    assert kernels.fused_kernels_error() == "ImportError: No module named 'mamba_ssm'"


def test_loader_works_without_causal_conv1d(monkeypatch, fresh_loader):
    def scan() -> None:
        pass

    def import_module(name: str):
        if name == "causal_conv1d":
            raise ImportError("No module named 'causal_conv1d'")
        return types.SimpleNamespace(mamba_chunk_scan_combined=scan)

    monkeypatch.setattr(kernels.importlib, "import_module", import_module)
    loaded = kernels.load_fused_kernels()

    assert loaded.chunk_scan is scan
    assert loaded.causal_conv1d is None


def test_fallback_warning_is_shown_once(fresh_loader):
    with pytest.warns(RuntimeWarning, match=r"pure-PyTorch scan on CUDA .*\(ImportError: test\)"):
        kernels.warn_fallback_once("ImportError: test")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kernels.warn_fallback_once("ImportError: test")


CONFIG = dict(d_model=32, d_state=8, d_conv=4, expand=2, headdim=16, ngroups=2, chunk_size=4)
FAKE_CUDA_INPUT = types.SimpleNamespace(is_cuda=True, device="cuda:0")


def test_path_selection_on_cuda(monkeypatch, fresh_loader):
    fake = FusedKernels(chunk_scan=None, causal_conv1d=None, version="test")
    auto, fused, plain = Mamba2(**CONFIG), Mamba2(**CONFIG, scan="fused"), Mamba2(**CONFIG, scan="torch")

    monkeypatch.setattr("fm4npp_geo.nn.mamba2.load_fused_kernels", lambda: fake)
    assert auto._select_path(FAKE_CUDA_INPUT) == "fused"
    assert fused._select_path(FAKE_CUDA_INPUT) == "fused"
    assert plain._select_path(FAKE_CUDA_INPUT) == "torch"

    monkeypatch.setattr("fm4npp_geo.nn.mamba2.load_fused_kernels", lambda: None)
    monkeypatch.setattr("fm4npp_geo.nn.mamba2.fused_kernels_error", lambda: "ImportError: test")
    with pytest.warns(RuntimeWarning, match="ImportError"):
        assert auto._select_path(FAKE_CUDA_INPUT) == "torch"
    with pytest.raises(ImportError, match=r"ImportError: test\). Install it with pip install"):
        fused._select_path(FAKE_CUDA_INPUT)


def reference_chunk_scan(x, dt, A, B, C, chunk_size, D=None, z=None, dt_bias=None,
                         initial_states=None, seq_idx=None, cu_seqlens=None,
                         dt_softplus=False, dt_limit=(0.0, float("inf")),
                         return_final_states=False, return_varlen_states=False):
    """Stand-in with the signature and semantics of mamba-ssm 2.2's mamba_chunk_scan_combined."""
    assert seq_idx is None or seq_idx.dtype == torch.int32
    assert z is None
    dtype = torch.promote_types(dt.dtype, torch.float32)
    dt = dt.to(dtype) + dt_bias.to(dtype)
    if dt_softplus:
        dt = F.softplus(dt)
    return ssd_sequential(x, dt, A, B, C, D=D, seq_idx=seq_idx)


def reference_causal_conv1d(x, weight, bias=None, seq_idx=None, initial_states=None,
                            return_final_states=False, final_states_out=None, activation=None):
    """Stand-in for causal-conv1d 1.4's causal_conv1d_fn: runs each sequence separately."""
    batch, channels, seqlen = x.shape
    assert weight.shape == (channels, weight.shape[1])
    assert seq_idx is None or x.stride(1) == 1, "seq_idx needs channels-last input"
    width = weight.shape[1]
    ids = torch.zeros(batch, seqlen, dtype=torch.int32) if seq_idx is None else seq_idx
    out = torch.empty_like(x)
    for row in range(batch):
        for value in ids[row].unique():
            columns = (ids[row] == value).nonzero().flatten()
            part = slice(columns[0].item(), columns[-1].item() + 1)
            segment = F.pad(x[row : row + 1, :, part], (width - 1, 0))
            out[row : row + 1, :, part] = F.conv1d(segment, weight.unsqueeze(1), bias, groups=channels)
    return F.silu(out) if activation in ("silu", "swish") else out


@pytest.mark.parametrize("with_conv_kernel", [True, False])
@pytest.mark.parametrize("packed", [True, False])
def test_fused_plumbing_matches_torch_path(monkeypatch, with_conv_kernel, packed):
    conv = reference_causal_conv1d if with_conv_kernel else None
    fake = FusedKernels(reference_chunk_scan, conv, version="test")
    monkeypatch.setattr("fm4npp_geo.nn.mamba2.load_fused_kernels", lambda: fake)
    torch.manual_seed(0)
    layer = Mamba2(**CONFIG).double()
    u = torch.randn(2, 11, 32, dtype=torch.float64)
    seq_idx = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2], [3] * 11]) if packed else None

    with torch.no_grad():
        expected = layer._forward_torch(u, seq_idx)
        actual = layer._forward_fused(u, seq_idx)

    # The stand-in scan is the sequential reference, so only rounding differs.
    torch.testing.assert_close(actual, expected, rtol=1e-8, atol=1e-10)
