"""The Mamba2 mixer layer in plain PyTorch."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fm4npp_geo.nn.norm import RMSNormGated
from fm4npp_geo.nn.ssd import ssd_chunked

__all__ = ["Mamba2"]


class Mamba2(nn.Module):
    """The Mamba2 layer from Dao and Gu, "Transformers are SSMs" (ICML 2024).

    One input projection produces the gate ``z``, the SSM input ``x``, the
    matrices ``B`` and ``C`` and the step size ``dt``. A depthwise causal
    convolution and SiLU act on ``[x, B, C]``, the SSD scan (:func:`ssd_chunked`)
    runs with :math:`\\Delta = \\mathrm{softplus}(dt + dt_{bias})` and
    :math:`A = -\\exp(A_{log})`, a gated RMSNorm applies ``SiLU(z)`` and the
    output projection returns to ``d_model``:

    .. math::
        \\mathrm{out} = W_{out} \\, \\mathrm{RMSNorm}\\big(
            \\mathrm{SSD}(x, \\Delta, A, B, C, D) \\odot \\mathrm{SiLU}(z)\\big)

    The layer is causal: position ``t`` depends only on positions ``<= t``, so
    padding a sequence on the right does not change its outputs.

    Parameter names, shapes and initialization follow
    ``mamba_ssm.modules.mamba2.Mamba2`` (mamba-ssm 2.x, default options), so
    state dicts can be exchanged with it: ``in_proj.weight``,
    ``conv1d.weight``, ``conv1d.bias``, ``dt_bias``, ``A_log``, ``D``,
    ``norm.weight`` and ``out_proj.weight``.

    Args:
        d_model (int): Input and output size.
        d_state (int, optional): SSM state size :math:`N`. (default: :obj:`128`)
        d_conv (int, optional): Width of the causal convolution.
            (default: :obj:`4`)
        expand (int, optional): ``d_inner = expand * d_model``.
            (default: :obj:`2`)
        headdim (int, optional): Channels per head :math:`P`. It must divide
            ``d_inner``. (default: :obj:`64`)
        ngroups (int, optional): Groups of heads sharing ``B`` and ``C``. It must
            divide the number of heads. (default: :obj:`1`)
        chunk_size (int, optional): Chunk length of the SSD scan. It changes speed
            and memory, not results. (default: :obj:`256`)
        dt_min (float, optional): Smallest initial step size.
            (default: :obj:`0.001`)
        dt_max (float, optional): Largest initial step size.
            (default: :obj:`0.1`)
        dt_init_floor (float, optional): Lower clamp of the initial step size.
            (default: :obj:`1e-4`)
        A_init_range (tuple[float, float], optional): Range of the initial
            decay rates :math:`-A`. (default: :obj:`(1, 16)`)

    Shapes:
        - **input:** (batch, L, d_model)
        - **output:** (batch, L, d_model)
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 128,
        d_conv: int = 4,
        expand: int = 2,
        headdim: int = 64,
        ngroups: int = 1,
        chunk_size: int = 256,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        A_init_range: tuple[float, float] = (1, 16),
    ) -> None:
        super().__init__()
        sizes = dict(
            d_model=d_model,
            d_state=d_state,
            d_conv=d_conv,
            expand=expand,
            headdim=headdim,
            ngroups=ngroups,
            chunk_size=chunk_size,
        )
        for name, value in sizes.items():
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"Expected a positive integer '{name}', got {value!r}")
        d_inner = expand * d_model
        if d_inner % headdim != 0:
            raise ValueError(
                f"d_inner = expand * d_model = {expand} * {d_model} = {d_inner} is "
                f"not divisible by headdim={headdim}. Choose a headdim that divides "
                f"{d_inner} or a d_model that is a multiple of headdim"
            )
        nheads = d_inner // headdim
        if nheads % ngroups != 0:
            raise ValueError(
                f"nheads = d_inner / headdim = {nheads} is not divisible by "
                f"ngroups={ngroups} (d_inner={d_inner}). Choose an ngroups that "
                f"divides {nheads}"
            )
        if not 0 < dt_min <= dt_max:
            raise ValueError(
                f"Expected 0 < dt_min <= dt_max, got dt_min={dt_min} and "
                f"dt_max={dt_max}"
            )
        if not 0 < A_init_range[0] <= A_init_range[1]:
            raise ValueError(
                f"Expected 0 < A_init_range[0] <= A_init_range[1], got "
                f"A_init_range={tuple(A_init_range)}"
            )

        self.d_model = d_model
        self.d_state = d_state
        self.d_conv = d_conv
        self.expand = expand
        self.headdim = headdim
        self.ngroups = ngroups
        self.chunk_size = chunk_size
        self.d_inner = d_inner
        self.nheads = nheads

        # Projection layout, as in mamba-ssm: [z, x, B, C, dt].
        conv_dim = d_inner + 2 * ngroups * d_state
        self.in_proj = nn.Linear(d_model, d_inner + conv_dim + nheads, bias=False)
        self.conv1d = nn.Conv1d(
            conv_dim,
            conv_dim,
            kernel_size=d_conv,
            groups=conv_dim,
            padding=d_conv - 1,
            bias=True,
        )

        # dt_bias is the inverse softplus of a log-uniform dt in [dt_min, dt_max].
        log_dt = torch.rand(nheads) * (math.log(dt_max) - math.log(dt_min))
        dt = torch.exp(log_dt + math.log(dt_min)).clamp(min=dt_init_floor)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))

        A = torch.empty(nheads).uniform_(*A_init_range)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(nheads))

        # Optimizers may skip weight decay on these, as mamba-ssm marks them.
        for param in (self.dt_bias, self.A_log, self.D):
            param._no_weight_decay = True

        self.norm = RMSNormGated(
            d_inner, eps=1e-5, group_size=d_inner // ngroups, norm_before_gate=False
        )
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    def forward(self, u: Tensor) -> Tensor:
        """Mix a batch of sequences ``u`` along the sequence dimension."""
        if u.dim() != 3 or u.shape[-1] != self.d_model:
            raise ValueError(
                f"Expected input of shape (batch, L, {self.d_model}), got "
                f"{tuple(u.shape)}"
            )
        batch, seqlen, _ = u.shape

        zxbcdt = self.in_proj(u)  # (b, L, d_in_proj)
        z, xBC, dt = torch.split(
            zxbcdt,
            [self.d_inner, self.d_inner + 2 * self.ngroups * self.d_state, self.nheads],
            dim=-1,
        )

        xBC = F.silu(self._causal_conv(xBC))  # (b, L, d_inner + 2 * ngroups * d_state)
        x, B, C = torch.split(
            xBC,
            [self.d_inner, self.ngroups * self.d_state, self.ngroups * self.d_state],
            dim=-1,
        )

        # Step size and decay in at least float32, so half precision stays finite.
        dtype = torch.promote_types(dt.dtype, torch.float32)
        dt = F.softplus(dt.to(dtype) + self.dt_bias.to(dtype))  # (b, L, nheads)
        A = -torch.exp(self.A_log.to(dtype))  # (nheads,)
        y = ssd_chunked(
            x.reshape(batch, seqlen, self.nheads, self.headdim),
            dt,
            A,
            B.reshape(batch, seqlen, self.ngroups, self.d_state),
            C.reshape(batch, seqlen, self.ngroups, self.d_state),
            chunk_size=self.chunk_size,
            D=self.D,
        )
        y = y.reshape(batch, seqlen, self.d_inner)

        y = self.norm(y, z)
        return self.out_proj(y)

    def _causal_conv(self, xBC: Tensor) -> Tensor:
        """Apply ``conv1d`` causally: output ``t`` depends on inputs ``t - d_conv + 1 .. t``.

        Written as a sum of shifted copies, which on CPU is several times faster
        than ``nn.Conv1d`` on channels-first data and needs no transposes.

        Shapes:
            xBC: (batch, L, channels) -> (batch, L, channels)
        """
        seqlen = xBC.shape[1]
        kernel = self.conv1d.weight[:, 0]  # (channels, d_conv)
        padded = F.pad(xBC, (0, 0, self.d_conv - 1, 0))  # (b, L + d_conv - 1, channels)
        out = self.conv1d.bias + padded[:, :seqlen] * kernel[:, 0]
        for tap in range(1, self.d_conv):
            out = out + padded[:, tap : tap + seqlen] * kernel[:, tap]
        return out

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, d_inner={self.d_inner}, d_state={self.d_state}, "
            f"nheads={self.nheads}, headdim={self.headdim}, ngroups={self.ngroups}, "
            f"d_conv={self.d_conv}, chunk_size={self.chunk_size}, scan=\"torch\""
        )
