"""The fused mamba-ssm path against the pure-PyTorch path on a GPU.

Skipped without a CUDA device. The fused comparisons are also skipped when
mamba-ssm does not import. The tolerances (5e-3 relative) allow for the
kernels' other summation order and for TF32 in Triton's float32 matrix
products.

NOTE: written against the mamba-ssm 2.2 API but not yet run on a GPU, so the
tolerances are estimates.
"""

import pytest
import torch
from torch_geometric.data import Batch, Data

from fm4npp_geo.nn import FM4NPPBackbone, Mamba2, kernels

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

CONFIGS = {
    "m1-like": dict(d_model=64, d_state=16, headdim=64, ngroups=1),
    "grouped": dict(d_model=128, d_state=32, headdim=32, ngroups=4),
}
LENGTHS = [1, 63, 64, 65, 850]


def require_fused() -> None:
    if kernels.load_fused_kernels() is None:
        pytest.skip(f"mamba-ssm fused kernels unavailable: {kernels.fused_kernels_error()}")


def make_pair(config: dict, seed: int = 0) -> tuple[Mamba2, Mamba2]:
    torch.manual_seed(seed)
    fused = Mamba2(**config, chunk_size=64, scan="fused").cuda()
    plain = Mamba2(**config, chunk_size=64, scan="torch").cuda()
    plain.load_state_dict(fused.state_dict(), strict=True)
    with torch.no_grad():  # move D and the norm away from their neutral initial values
        for layer in (fused, plain):
            torch.manual_seed(seed + 1)
            layer.D.uniform_(-1.0, 1.0)
            layer.norm.weight.uniform_(0.5, 1.5)
    return fused, plain


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return ((actual.float() - expected.float()).norm() / expected.float().norm()).item()


def test_torch_path_on_cuda_matches_cpu():
    torch.manual_seed(0)
    layer = Mamba2(**CONFIGS["grouped"], chunk_size=64, scan="torch").double()
    u = torch.randn(2, 300, 128, dtype=torch.float64)

    with torch.no_grad():
        expected = layer(u)
        actual = layer.cuda()(u.cuda()).cpu()

    assert relative_error(actual, expected) < 1e-10


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("seqlen", LENGTHS)
def test_fused_forward_matches_torch(name, seqlen):
    require_fused()
    fused, plain = make_pair(CONFIGS[name])
    u = torch.randn(3, seqlen, fused.d_model, device="cuda")

    with torch.no_grad():
        actual = fused(u)
        expected = plain(u)

    assert fused.last_scan == "fused"
    assert relative_error(actual, expected) < 5e-3


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fused_gradients_match_torch(name):
    require_fused()
    fused, plain = make_pair(CONFIGS[name])
    u = torch.randn(2, 200, fused.d_model, device="cuda")
    weights = torch.randn(2, 200, fused.d_model, device="cuda")

    for layer in (fused, plain):
        (layer(u) * weights).sum().backward()

    for (param_name, param), reference in zip(fused.named_parameters(), plain.parameters()):
        assert relative_error(param.grad, reference.grad) < 1e-2, param_name


def test_fused_packed_sequences_equal_separate_runs():
    require_fused()
    fused, _ = make_pair(CONFIGS["grouped"])
    lengths = [5, 64, 130, 1, 300]
    u = torch.randn(1, sum(lengths), fused.d_model, device="cuda")
    seq_idx = torch.repeat_interleave(
        torch.arange(len(lengths), device="cuda"), torch.tensor(lengths, device="cuda")
    ).unsqueeze(0)

    with torch.no_grad():
        packed = fused(u, seq_idx=seq_idx)
        start = 0
        for length in lengths:
            alone = fused(u[:, start : start + length])
            assert relative_error(packed[:, start : start + length], alone) < 5e-3
            start += length


def test_fused_bfloat16_autocast_close_to_float32():
    require_fused()
    fused, plain = make_pair(CONFIGS["m1-like"])
    u = torch.randn(4, 850, 64, device="cuda")

    with torch.no_grad():
        expected = plain(u)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            actual = fused(u)

    assert relative_error(actual, expected) < 3e-2


def test_backbone_forward_batch_fused_matches_torch():
    require_fused()
    events = []
    for seed, num_hits in enumerate([300, 850, 40]):
        generator = torch.Generator().manual_seed(seed)
        x = torch.rand(num_hits, 4, generator=generator) * 2.0 - 1.0
        events.append(Data(x=x, order=torch.randperm(num_hits, generator=generator)))
    batch = Batch.from_data_list(events).to("cuda")
    torch.manual_seed(0)
    fused = FM4NPPBackbone(n_layer=2, chunk_size=64, scan="fused").cuda().eval()
    plain = FM4NPPBackbone(n_layer=2, chunk_size=64, scan="torch").cuda().eval()
    plain.load_state_dict(fused.state_dict(), strict=True)

    with torch.no_grad():
        actual = fused(batch)
        expected = plain(batch)
        alone = fused(events[1].to("cuda"))

    assert relative_error(actual, expected) < 5e-3
    assert relative_error(actual[300:1150], alone) < 5e-3


def test_state_dict_loads_into_mamba_ssm_module():
    require_fused()
    mamba_ssm_mamba2 = pytest.importorskip("mamba_ssm.modules.mamba2")
    config = dict(d_model=128, d_state=32, d_conv=4, expand=2, headdim=32, ngroups=4, chunk_size=64)
    torch.manual_seed(0)
    theirs = mamba_ssm_mamba2.Mamba2(**config, device="cuda")
    ours = Mamba2(**config, scan="fused").cuda()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    u = torch.randn(2, 500, 128, device="cuda")
    seq_idx = (torch.arange(500, device="cuda") >= 180).int().expand(2, 500).contiguous()

    with torch.no_grad():
        assert relative_error(ours(u), theirs(u)) < 5e-3
        assert relative_error(ours(u, seq_idx=seq_idx), theirs(u, seq_idx=seq_idx)) < 5e-3
