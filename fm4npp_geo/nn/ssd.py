"""The Mamba2 state-space-duality (SSD) scan in plain PyTorch.

Mamba2 (Dao and Gu, "Transformers are SSMs: Generalized Models and Efficient
Algorithms Through Structured State Space Duality", ICML 2024) runs, per head
:math:`h`, the scalar-decay state-space recurrence

.. math::
    H_t = \\exp(\\Delta_t A_h) H_{t-1} + \\Delta_t x_t B_t^\\top, \\qquad
    y_t = H_t C_t + D_h x_t,

with state :math:`H_t \\in \\mathbb{R}^{P \\times N}` (head dimension times
state size). :func:`ssd_chunked` evaluates it with the chunked SSD algorithm,
which turns most of the work into matrix products. :func:`ssd_sequential` is the
slow reference loop that the tests compare it with.

Heads share ``B`` and ``C`` in groups: head ``h`` reads group
``h // (nheads // ngroups)``, as in mamba-ssm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["ssd_chunked", "ssd_sequential"]


def _check_inputs(
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None,
    initial_states: Tensor | None,
) -> None:
    if x.dim() != 4:
        raise ValueError(
            f"Expected 'x' of shape (batch, L, nheads, headdim), got {tuple(x.shape)}"
        )
    batch, seqlen, nheads, headdim = x.shape
    if dt.shape != (batch, seqlen, nheads):
        raise ValueError(
            f"Expected 'dt' of shape {(batch, seqlen, nheads)}, got {tuple(dt.shape)}"
        )
    if A.shape != (nheads,):
        raise ValueError(f"Expected 'A' of shape {(nheads,)}, got {tuple(A.shape)}")
    if B.dim() != 4 or B.shape[:2] != (batch, seqlen) or B.shape != C.shape:
        raise ValueError(
            f"Expected 'B' and 'C' of equal shape (batch={batch}, L={seqlen}, "
            f"ngroups, d_state), got {tuple(B.shape)} and {tuple(C.shape)}"
        )
    ngroups, d_state = B.shape[2:]
    if nheads % ngroups != 0:
        raise ValueError(
            f"nheads={nheads} is not divisible by ngroups={ngroups}. Every group "
            f"must serve the same number of heads"
        )
    if D is not None and D.shape != (nheads,):
        raise ValueError(f"Expected 'D' of shape {(nheads,)}, got {tuple(D.shape)}")
    expected_state = (batch, nheads, headdim, d_state)
    if initial_states is not None and initial_states.shape != expected_state:
        raise ValueError(
            f"Expected 'initial_states' of shape {expected_state}, "
            f"got {tuple(initial_states.shape)}"
        )


def _compute_dtype(x: Tensor) -> torch.dtype:
    # Half-precision inputs accumulate in float32, and float64 stays float64.
    return torch.promote_types(x.dtype, torch.float32)


def _decay_mask(dA_cumsum: Tensor) -> Tensor:
    """Return ``exp(dA[j+1] + ... + dA[i])`` for ``i >= j`` and 0 above the diagonal.

    The segment sums are differences of the cumulative sum, as in the mamba-ssm
    kernels. The exponent is masked to ``-inf`` before ``exp`` so that the upper
    triangle (positive sums) cannot overflow and poison the gradient.

    Shapes:
        dA_cumsum: (..., T) -> (..., T, T)
    """
    T = dA_cumsum.shape[-1]
    causal = torch.ones(T, T, dtype=torch.bool, device=dA_cumsum.device).tril()
    segment_sum = dA_cumsum.unsqueeze(-1) - dA_cumsum.unsqueeze(-2)  # (..., T_i, T_j)
    return torch.exp(segment_sum.masked_fill(~causal, float("-inf")))


def ssd_chunked(
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    chunk_size: int,
    D: Tensor | None = None,
    initial_states: Tensor | None = None,
    return_final_state: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Run the Mamba2 SSD scan chunk by chunk.

    The sequence is cut into chunks of ``chunk_size`` positions (padded at the
    end and cut back afterwards). Inside a chunk, outputs come from a masked,
    attention-like product of ``C`` and ``B``. Across chunks, only the
    ``(headdim, d_state)`` states are carried by a short recurrence. The result
    equals :func:`ssd_sequential` up to rounding. Half-precision inputs are
    computed in float32 (autocast is switched off inside) and the output is cast
    back to the dtype of ``x``.

    Args:
        x (Tensor): Inputs per head.
        dt (Tensor): Step sizes :math:`\\Delta`, positive (softplus and bias
            already applied).
        A (Tensor): Negative decay rate per head.
        B (Tensor): Input matrix per group.
        C (Tensor): Output matrix per group.
        chunk_size (int): Chunk length. It changes the cost, not the result.
        D (Tensor, optional): Skip connection per head. (default: :obj:`None`)
        initial_states (Tensor, optional): State before the first position.
            (default: :obj:`None`, zeros)
        return_final_state (bool, optional): Also return the state after the
            last position. (default: :obj:`False`)

    Shapes:
        - **x:** (batch, L, nheads, headdim)
        - **dt:** (batch, L, nheads)
        - **A**, **D:** (nheads,)
        - **B**, **C:** (batch, L, ngroups, d_state)
        - **initial_states:** (batch, nheads, headdim, d_state)

    Returns:
        Tensor ``y`` of the shape and dtype of ``x``, and with
        ``return_final_state`` also the final state (batch, nheads, headdim,
        d_state) in the compute dtype.
    """
    _check_inputs(x, dt, A, B, C, D, initial_states)
    if chunk_size <= 0:
        raise ValueError(f"Expected a positive 'chunk_size', got {chunk_size}")

    batch, seqlen, nheads, headdim = x.shape
    ngroups, d_state = B.shape[2:]
    heads_per_group = nheads // ngroups
    dtype = _compute_dtype(x)
    num_chunks = -(-seqlen // chunk_size)
    pad = num_chunks * chunk_size - seqlen

    with torch.autocast(device_type=x.device.type, enabled=False):
        # 0. Pad to whole chunks and split heads into (group, head in group).
        #    A padded position has dt = 0: it neither decays nor feeds the state.
        def to_chunks(t: Tensor) -> Tensor:
            t = F.pad(t.to(dtype), (0, 0) * (t.dim() - 2) + (0, pad))
            return t.reshape(batch, num_chunks, chunk_size, *t.shape[2:])

        x_c = to_chunks(x).reshape(
            batch, num_chunks, chunk_size, ngroups, heads_per_group, headdim
        )
        x_c = x_c.permute(0, 1, 3, 4, 2, 5)  # (b, c, g, r, l, p)
        dt_c = to_chunks(dt).reshape(
            batch, num_chunks, chunk_size, ngroups, heads_per_group
        )
        dt_c = dt_c.permute(0, 1, 3, 4, 2)  # (b, c, g, r, l)
        B_c = to_chunks(B).permute(0, 1, 3, 2, 4).unsqueeze(3)  # (b, c, g, 1, l, n)
        C_c = to_chunks(C).permute(0, 1, 3, 2, 4).unsqueeze(3)  # (b, c, g, 1, l, n)
        A_h = A.to(dtype).reshape(ngroups, heads_per_group, 1)  # (g, r, 1)

        dA = dt_c * A_h  # (b, c, g, r, l): log-decay of each step
        dA_cumsum = torch.cumsum(dA, dim=-1)  # (b, c, g, r, l)

        # 1. Intra-chunk outputs (diagonal blocks): a causal, attention-like
        #    product with scores (C_l . B_s) * exp(dA_{s+1} + ... + dA_l).
        scores = C_c @ B_c.transpose(-1, -2)  # (b, c, g, 1, l, s)
        scores = scores * _decay_mask(dA_cumsum)  # (b, c, g, r, l, s)
        y = scores @ (x_c * dt_c.unsqueeze(-1))  # (b, c, g, r, l, p)

        # 2. State each chunk builds from zero, decayed to the chunk's end.
        #    Weights go on B (d_state wide), which is cheaper than on x.
        decay_to_end = torch.exp(dA_cumsum[..., -1:] - dA_cumsum)  # (b, c, g, r, l)
        B_weighted = B_c * (decay_to_end * dt_c).unsqueeze(-1)  # (b, c, g, r, l, n)
        chunk_states = x_c.transpose(-1, -2) @ B_weighted  # (b, c, g, r, p, n)

        # 3. Inter-chunk recurrence: the state entering each chunk.
        if initial_states is None:
            state = x.new_zeros(
                (batch, ngroups, heads_per_group, headdim, d_state), dtype=dtype
            )
        else:
            state = initial_states.to(dtype).reshape(
                batch, ngroups, heads_per_group, headdim, d_state
            )
        chunk_decay = torch.exp(dA_cumsum[..., -1])  # (b, c, g, r)
        entering_states = []
        for c in range(num_chunks):
            entering_states.append(state)
            decay = chunk_decay[:, c, :, :, None, None]  # (b, g, r, 1, 1)
            state = decay * state + chunk_states[:, c]
        final_state = state.reshape(batch, nheads, headdim, d_state)

        # 4. Contribution of the entering state to every output of the chunk.
        if num_chunks > 0:
            states_in = torch.stack(entering_states, dim=1)  # (b, c, g, r, p, n)
            C_decayed = C_c * torch.exp(dA_cumsum).unsqueeze(-1)  # (b, c, g, r, l, n)
            y = y + C_decayed @ states_in.transpose(-1, -2)  # (b, c, g, r, l, p)

        if D is not None:
            D_h = D.to(dtype).reshape(ngroups, heads_per_group, 1, 1)
            y = torch.addcmul(y, D_h, x_c)

        y = y.permute(0, 1, 4, 2, 3, 5)  # (b, c, l, g, r, p)
        y = y.reshape(batch, num_chunks * chunk_size, nheads, headdim)
        y = y[:, :seqlen].to(x.dtype)

    if return_final_state:
        return y, final_state
    return y


def ssd_sequential(
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    chunk_size: int | None = None,
    D: Tensor | None = None,
    initial_states: Tensor | None = None,
    return_final_state: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Run the Mamba2 recurrence one position at a time (slow reference).

    Computes :math:`H_t = \\exp(\\Delta_t A) H_{t-1} + \\Delta_t x_t B_t^\\top`
    and :math:`y_t = H_t C_t + D x_t` in a Python loop over ``t``. Arguments,
    shapes and return values are those of :func:`ssd_chunked`. ``chunk_size`` is
    accepted for a matching signature and ignored.
    """
    _check_inputs(x, dt, A, B, C, D, initial_states)

    batch, seqlen, nheads, headdim = x.shape
    ngroups, d_state = B.shape[2:]
    dtype = _compute_dtype(x)

    with torch.autocast(device_type=x.device.type, enabled=False):
        # Give each head its group's B and C.
        heads_per_group = nheads // ngroups
        B_h = B.to(dtype).repeat_interleave(heads_per_group, dim=2)  # (b, L, h, n)
        C_h = C.to(dtype).repeat_interleave(heads_per_group, dim=2)  # (b, L, h, n)
        x_f = x.to(dtype)
        dt_f = dt.to(dtype)
        A_f = A.to(dtype)

        if initial_states is None:
            state = x.new_zeros((batch, nheads, headdim, d_state), dtype=dtype)
        else:
            state = initial_states.to(dtype)

        outputs = []
        for t in range(seqlen):
            decay = torch.exp(dt_f[:, t] * A_f)[:, :, None, None]  # (b, h, 1, 1)
            x_t = x_f[:, t] * dt_f[:, t, :, None]  # (b, h, p)
            update = x_t.unsqueeze(-1) * B_h[:, t].unsqueeze(-2)  # (b, h, p, n)
            state = decay * state + update
            y_t = (state @ C_h[:, t].unsqueeze(-1)).squeeze(-1)  # (b, h, p)
            if D is not None:
                y_t = y_t + D.to(dtype)[:, None] * x_f[:, t]
            outputs.append(y_t)

        if outputs:
            y = torch.stack(outputs, dim=1).to(x.dtype)  # (b, L, h, p)
        else:
            y = x.new_empty(x.shape)

    if return_final_state:
        return y, state
    return y
