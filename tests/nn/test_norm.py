import pytest
import torch

from fm4npp_geo.nn import RMSNorm, RMSNormGated


def test_rms_norm_by_hand():
    norm = RMSNorm(2, eps=0.0)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0]))

    # rms([3, 4]) = sqrt(12.5)
    out = norm(torch.tensor([[3.0, 4.0]]))
    scale = 12.5 ** -0.5
    assert torch.allclose(out, torch.tensor([[3.0 * scale, 8.0 * scale]]))


def test_rms_norm_keeps_bfloat16():
    out = RMSNorm(8)(torch.randn(3, 8).bfloat16())
    assert out.dtype == torch.bfloat16


def test_gated_norm_gates_before_normalizing():
    norm = RMSNormGated(4, eps=0.0)
    x = torch.tensor([[1.0, -2.0, 3.0, 0.5]])
    z = torch.tensor([[0.3, 1.0, -1.0, 2.0]])

    gated = x * torch.nn.functional.silu(z)
    expected = gated / gated.pow(2).mean().sqrt()
    assert torch.allclose(norm(x, z), expected)


def test_gated_norm_normalizes_each_group():
    norm = RMSNormGated(4, eps=0.0, group_size=2)
    x = torch.tensor([[3.0, 4.0, 1.0, 1.0]])

    expected = torch.tensor([[3.0, 4.0, 1.0, 1.0]]) / torch.tensor(
        [[12.5**0.5, 12.5**0.5, 1.0, 1.0]]
    )
    assert torch.allclose(norm(x), expected)


def test_gated_norm_after_normalizing():
    norm = RMSNormGated(4, eps=0.0, norm_before_gate=True)
    x = torch.tensor([[1.0, -2.0, 3.0, 0.5]])
    z = torch.tensor([[0.3, 1.0, -1.0, 2.0]])

    expected = x / x.pow(2).mean().sqrt() * torch.nn.functional.silu(z)
    assert torch.allclose(norm(x, z), expected)


def test_gated_norm_rejects_bad_group_size():
    with pytest.raises(ValueError, match="d=6 and group_size=4"):
        RMSNormGated(6, group_size=4)
