"""The Mamba2 mixer layer: a pure-PyTorch path and mamba-ssm's fused CUDA path."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fm4npp_geo.nn.kernels import (
    INSTALL_HINT,
    fused_kernels_error,
    load_fused_kernels,
    warn_fallback_once,
)
from fm4npp_geo.nn.norm import RMSNormGated
from fm4npp_geo.nn.ssd import check_seq_idx, ssd_chunked

__all__ = ["Mamba2"]

SCAN_PATHS = ("auto", "torch", "fused")


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
    padding a sequence on the right does not change its outputs. Several
    sequences packed into one row are kept apart by ``seq_idx``: the
    convolution and the scan restart where it changes.

    Two paths compute the same equations. The ``"torch"`` path runs
    :func:`~fm4npp_geo.nn.ssd.ssd_chunked` and a PyTorch convolution, both in at
    least float32 (also under bf16 or fp16 autocast). The ``"fused"`` path calls
    mamba-ssm's ``mamba_chunk_scan_combined`` and causal-conv1d's
    ``causal_conv1d_fn`` (mamba-ssm 2.2, causal-conv1d 1.4), imported on the
    first CUDA forward. ``"auto"`` picks the fused path for CUDA tensors when
    those kernels import, and the torch path otherwise.

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
        scan (str, optional): ``"auto"``, ``"torch"`` or ``"fused"``.
            (default: :obj:`"auto"`)

    Shapes:
        - **input:** u (batch, L, d_model), seq_idx (batch, L) or :obj:`None`
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
        scan: str = "auto",
    ) -> None:
        super().__init__()
        if scan not in SCAN_PATHS:
            raise ValueError(f"Expected 'scan' to be one of {SCAN_PATHS}, got {scan!r}")
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
        self.scan = scan
        #: Path taken by the latest forward call, ``None`` before the first.
        self.last_scan: str | None = None

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

    def forward(self, u: Tensor, seq_idx: Tensor | None = None) -> Tensor:
        """Mix a batch of sequences ``u`` along the sequence dimension.

        Args:
            u (Tensor): Input sequences.
            seq_idx (Tensor, optional): Integer sequence index of each position,
                non-decreasing along each row, for several sequences packed
                into one row. (default: :obj:`None`, one sequence per row)

        Returns:
            Tensor of shape (batch, L, d_model).
        """
        if u.dim() != 3 or u.shape[-1] != self.d_model:
            raise ValueError(
                f"Expected input of shape (batch, L, {self.d_model}), got "
                f"{tuple(u.shape)}"
            )
        if seq_idx is not None:
            # The torch path also checks the order; the fused path trusts it,
            # because the check would synchronize the GPU in every layer.
            check_seq_idx(seq_idx, u.shape[0], u.shape[1], check_order=False)

        path = self._select_path(u)
        self.last_scan = path
        if path == "fused":
            return self._forward_fused(u, seq_idx)
        return self._forward_torch(u, seq_idx)

    def _select_path(self, u: Tensor) -> str:
        if self.scan == "torch":
            return "torch"
        if self.scan == "fused":
            if not u.is_cuda:
                raise ValueError(
                    f"scan='fused' needs CUDA tensors, got input on {u.device}. Use "
                    f"scan='auto' or scan='torch' on this device"
                )
            if load_fused_kernels() is None:
                raise ImportError(
                    f"scan='fused' needs mamba-ssm, which failed to import "
                    f"({fused_kernels_error()}). Install it with {INSTALL_HINT}"
                )
            return "fused"
        if u.is_cuda:
            if load_fused_kernels() is not None:
                return "fused"
            warn_fallback_once(fused_kernels_error())
        return "torch"

    def _split_projection(self, u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Project ``u`` and split it into ``z``, ``xBC`` and ``dt``, in mamba-ssm's order."""
        zxbcdt = self.in_proj(u)  # (b, L, d_in_proj)
        conv_dim = self.d_inner + 2 * self.ngroups * self.d_state
        z, xBC, dt = torch.split(zxbcdt, [self.d_inner, conv_dim, self.nheads], dim=-1)
        return z, xBC, dt

    def _split_xBC(self, xBC: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Split the convolved ``xBC`` into per-head ``x`` and per-group ``B`` and ``C``."""
        batch, seqlen, _ = xBC.shape
        group_width = self.ngroups * self.d_state
        x, B, C = torch.split(xBC, [self.d_inner, group_width, group_width], dim=-1)
        x = x.reshape(batch, seqlen, self.nheads, self.headdim)
        B = B.reshape(batch, seqlen, self.ngroups, self.d_state)
        C = C.reshape(batch, seqlen, self.ngroups, self.d_state)
        return x, B, C

    def _forward_torch(self, u: Tensor, seq_idx: Tensor | None) -> Tensor:
        batch, seqlen, _ = u.shape
        z, xBC, dt = self._split_projection(u)

        xBC = F.silu(self._causal_conv(xBC, seq_idx))  # (b, L, conv_dim), >= float32
        x, B, C = self._split_xBC(xBC)

        # Step size and decay in at least float32, so half precision stays finite.
        dtype = torch.promote_types(dt.dtype, torch.float32)
        dt = F.softplus(dt.to(dtype) + self.dt_bias.to(dtype))  # (b, L, nheads)
        A = -torch.exp(self.A_log.to(dtype))  # (nheads,)
        y = ssd_chunked(
            x, dt, A, B, C, chunk_size=self.chunk_size, D=self.D, seq_idx=seq_idx
        )
        y = y.reshape(batch, seqlen, self.d_inner)

        y = self.norm(y, z)
        return self.out_proj(y)

    def _forward_fused(self, u: Tensor, seq_idx: Tensor | None) -> Tensor:
        kernels = load_fused_kernels()
        batch, seqlen, _ = u.shape
        if seq_idx is not None:
            seq_idx = seq_idx.to(torch.int32).contiguous()  # the kernels read int32
        z, xBC, dt = self._split_projection(u)

        # causal_conv1d_fn takes (b, channels, L) and widths 2 to 4. In the
        # channels-last layout of this transposed view, which seq_idx needs,
        # it also needs a channel count and strides that are multiples of 8.
        use_conv_kernel = xBC.shape[-1] % 8 == 0 and 2 <= self.d_conv <= 4
        if kernels.causal_conv1d is not None and use_conv_kernel:
            xBC = kernels.causal_conv1d(
                xBC.contiguous().transpose(1, 2),
                self.conv1d.weight[:, 0],
                self.conv1d.bias,
                seq_idx=seq_idx,
                activation="silu",
            ).transpose(1, 2)
        else:
            xBC = F.silu(self._causal_conv(xBC, seq_idx))
        x, B, C = self._split_xBC(xBC)

        # The kernel adds dt_bias and applies softplus in float32 itself.
        A = -torch.exp(self.A_log.float())
        y = kernels.chunk_scan(
            x,
            dt,
            A,
            B,
            C,
            self.chunk_size,
            D=self.D,
            dt_bias=self.dt_bias,
            dt_softplus=True,
            seq_idx=seq_idx,
        )
        y = y.reshape(batch, seqlen, self.d_inner)

        y = self.norm(y, z)
        return self.out_proj(y)

    def _causal_conv(self, xBC: Tensor, seq_idx: Tensor | None = None) -> Tensor:
        """Apply ``conv1d`` causally: output ``t`` depends on inputs ``t - d_conv + 1 .. t``.

        Written as a sum of shifted copies, which on CPU is several times faster
        than ``nn.Conv1d`` on channels-first data and needs no transposes. The
        sum runs in at least float32. With ``seq_idx`` a tap that reaches into
        an earlier sequence is dropped, as causal-conv1d does.

        Shapes:
            xBC: (batch, L, channels), seq_idx: (batch, L) -> (batch, L, channels)
        """
        seqlen = xBC.shape[1]
        dtype = torch.promote_types(xBC.dtype, torch.float32)
        xBC = xBC.to(dtype)
        kernel = self.conv1d.weight[:, 0].to(dtype)  # (channels, d_conv)
        out = torch.addcmul(self.conv1d.bias.to(dtype), xBC, kernel[:, -1])  # current position

        padded = F.pad(xBC, (0, 0, self.d_conv - 1, 0))  # (b, L + d_conv - 1, ch)
        if seq_idx is not None:
            padded_idx = F.pad(seq_idx, (self.d_conv - 1, 0), value=-1)  # (b, L + d_conv - 1)
        for tap in range(self.d_conv - 1):
            shifted = padded[:, tap : tap + seqlen]
            if seq_idx is not None:
                same_sequence = padded_idx[:, tap : tap + seqlen] == seq_idx  # (b, L)
                shifted = shifted * same_sequence.unsqueeze(-1)
            out = torch.addcmul(out, shifted, kernel[:, tap])
        return out

    def extra_repr(self) -> str:
        scan = f"scan={self.scan!r}"
        if self.last_scan is not None and self.scan == "auto":
            scan += f" (last forward: {self.last_scan!r})"
        return (
            f"d_model={self.d_model}, d_inner={self.d_inner}, d_state={self.d_state}, "
            f"nheads={self.nheads}, headdim={self.headdim}, ngroups={self.ngroups}, "
            f"d_conv={self.d_conv}, chunk_size={self.chunk_size}, {scan}"
        )
