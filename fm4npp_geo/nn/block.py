"""The pre-norm residual block around a Mamba2 layer."""

from __future__ import annotations

from torch import Tensor, nn

from fm4npp_geo.nn.mamba2 import Mamba2
from fm4npp_geo.nn.norm import RMSNorm

__all__ = ["Mamba2Block"]


class Mamba2Block(nn.Module):
    """Pre-norm residual block :math:`h + \\mathrm{Dropout}(\\mathrm{Mamba2}(\\mathrm{RMSNorm}(h)))`.

    Submodule names ``norm`` and ``mixer`` follow the blocks of mamba-ssm.

    Args:
        d_model (int): Hidden size.
        dropout (float, optional): Dropout probability on the mixer output.
            (default: :obj:`0.0`)
        **mamba_kwargs: Further arguments of :class:`Mamba2` (``d_state``,
            ``headdim``, ``expand``, ``d_conv``, ``chunk_size``, ...).

    Shapes:
        - **input:** (batch, L, d_model)
        - **output:** (batch, L, d_model)
    """

    def __init__(self, d_model: int, dropout: float = 0.0, **mamba_kwargs) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Expected 0 <= dropout < 1, got dropout={dropout}")
        self.norm = RMSNorm(d_model)
        self.mixer = Mamba2(d_model, **mamba_kwargs)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: Tensor) -> Tensor:
        """Add the normalized, mixed and dropped-out ``h`` to ``h``."""
        return h + self.dropout(self.mixer(self.norm(h)))
