"""Root-mean-square normalization, plain and gated as in Mamba2."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["RMSNorm", "RMSNormGated"]


def _rms_normalize(x: Tensor, eps: float) -> Tensor:
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)


class RMSNorm(nn.Module):
    """Root-mean-square layer normalization (Zhang and Sennrich, 2019).

    .. math::
        y = \\frac{x}{\\sqrt{\\mathrm{mean}(x^2) + \\epsilon}} \\odot w

    The statistics are computed in float32 (or float64 for float64 input) and
    the output has the dtype of ``x``.

    Args:
        d (int): Size of the last dimension.
        eps (float, optional): Added to the mean square. (default: :obj:`1e-5`)

    Shapes:
        - **input:** (*, d)
        - **output:** (*, d)
    """

    def __init__(self, d: int, eps: float = 1e-5) -> None:
        super().__init__()
        if d <= 0:
            raise ValueError(f"Expected a positive size 'd', got {d}")
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: Tensor) -> Tensor:
        """Normalize ``x`` over its last dimension and scale by ``weight``."""
        dtype = torch.promote_types(x.dtype, torch.float32)
        y = _rms_normalize(x.to(dtype), self.eps) * self.weight.to(dtype)
        return y.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, eps={self.eps}"


class RMSNormGated(nn.Module):
    """Gated, grouped RMS normalization of the Mamba2 block.

    With ``norm_before_gate=False`` (the Mamba2 default) the gate acts first:

    .. math::
        y = \\mathrm{RMSNorm}_{\\text{group}}(x \\odot \\mathrm{SiLU}(z)) \\odot w,

    where the mean square is taken separately over each block of
    ``group_size`` channels. With ``norm_before_gate=True`` the result is
    :math:`\\mathrm{RMSNorm}_{\\text{group}}(x) \\odot w \\odot \\mathrm{SiLU}(z)`.
    Matches ``mamba_ssm.ops.triton.layernorm_gated.RMSNorm`` (mamba-ssm 2.x),
    including its single parameter ``weight``.

    Args:
        d (int): Size of the last dimension.
        eps (float, optional): Added to the mean square. (default: :obj:`1e-5`)
        group_size (int, optional): Channels per normalization group. It must
            divide ``d``. (default: :obj:`None`, one group of ``d``)
        norm_before_gate (bool, optional): Normalize before applying the gate.
            (default: :obj:`False`)

    Shapes:
        - **input:** x (*, d), gate z (*, d) or :obj:`None`
        - **output:** (*, d)
    """

    def __init__(
        self,
        d: int,
        eps: float = 1e-5,
        group_size: int | None = None,
        norm_before_gate: bool = False,
    ) -> None:
        super().__init__()
        group_size = d if group_size is None else group_size
        if d <= 0 or group_size <= 0 or d % group_size != 0:
            raise ValueError(
                f"Expected a positive 'd' divisible by a positive 'group_size', "
                f"got d={d} and group_size={group_size}"
            )
        self.eps = eps
        self.group_size = group_size
        self.norm_before_gate = norm_before_gate
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: Tensor, z: Tensor | None = None) -> Tensor:
        """Gate ``x`` with ``SiLU(z)`` and normalize it group by group."""
        dtype = torch.promote_types(x.dtype, torch.float32)
        y = x.to(dtype)
        gate = None if z is None else F.silu(z.to(dtype))
        if gate is not None and not self.norm_before_gate:
            y = y * gate

        shape = y.shape
        y = y.reshape(*shape[:-1], shape[-1] // self.group_size, self.group_size)
        y = _rms_normalize(y, self.eps).reshape(shape)
        y = y * self.weight.to(dtype)

        if gate is not None and self.norm_before_gate:
            y = y * gate
        return y.to(x.dtype)

    def extra_repr(self) -> str:
        return (
            f"{self.weight.numel()}, eps={self.eps}, group_size={self.group_size}, "
            f"norm_before_gate={self.norm_before_gate}"
        )
