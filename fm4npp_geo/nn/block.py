"""The pre-norm residual block around a Mamba2 layer."""

from __future__ import annotations

from torch import Tensor, nn

from fm4npp_geo.nn.mamba2 import Mamba2
from fm4npp_geo.nn.norm import RMSNorm
from fm4npp_geo.nn.sequences import reverse_sequences

__all__ = ["Mamba2Block"]


class Mamba2Block(nn.Module):
    """Pre-norm residual block :math:`h + \\mathrm{Dropout}(\\mathrm{Mamba2}(\\mathrm{RMSNorm}(h)))`.

    Submodule names ``norm`` and ``mixer`` follow the blocks of mamba-ssm. The
    bidirectional variant adds a second Mamba2 layer, ``mixer_reverse``, that
    scans every sequence back to front. Its output is reversed again and added
    to the forward mixer's output before the dropout.

    Args:
        d_model (int): Hidden size.
        dropout (float, optional): Dropout probability on the mixer output.
            (default: :obj:`0.0`)
        bidirectional (bool, optional): Add the reversed scan.
            (default: :obj:`False`)
        **mamba_kwargs: Further arguments of :class:`Mamba2` (``d_state``,
            ``headdim``, ``expand``, ``d_conv``, ``ngroups``, ``chunk_size``,
            ``scan``, ...).

    Shapes:
        - **input:** h (batch, L, d_model), seq_idx and reverse_index (batch, L)
          or :obj:`None`
        - **output:** (batch, L, d_model)
    """

    def __init__(
        self, d_model: int, dropout: float = 0.0, bidirectional: bool = False, **mamba_kwargs
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Expected 0 <= dropout < 1, got dropout={dropout}")
        self.bidirectional = bidirectional
        self.norm = RMSNorm(d_model)
        self.mixer = Mamba2(d_model, **mamba_kwargs)
        if bidirectional:
            self.mixer_reverse = Mamba2(d_model, **mamba_kwargs)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        h: Tensor,
        seq_idx: Tensor | None = None,
        reverse_index: Tensor | None = None,
    ) -> Tensor:
        """Add the normalized, mixed and dropped-out ``h`` to ``h``.

        Args:
            h (Tensor): Hidden states.
            seq_idx (Tensor, optional): Sequence index of packed rows, passed to
                the mixers. (default: :obj:`None`)
            reverse_index (Tensor, optional): Index from
                :func:`~fm4npp_geo.nn.sequences.reversal_index` that reverses
                each sequence in place, for the bidirectional variant.
                (default: :obj:`None`, reverse whole rows)

        Returns:
            Tensor of shape (batch, L, d_model).
        """
        normed = self.norm(h)
        mixed = self.mixer(normed, seq_idx=seq_idx)
        if self.bidirectional:
            backward = self.mixer_reverse(
                reverse_sequences(normed, reverse_index), seq_idx=seq_idx
            )
            mixed = mixed + reverse_sequences(backward, reverse_index)
        return h + self.dropout(mixed)
