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

Several sequences can share one row of the batch ("packing"). ``seq_idx``
gives the sequence of every position, as in mamba-ssm's kernels: the state is
reset to zero wherever ``seq_idx`` changes, so no output depends on a position
of another sequence.
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
    seq_idx: Tensor | None = None,
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
    if seq_idx is not None:
        check_seq_idx(seq_idx, batch, seqlen)


def check_seq_idx(
    seq_idx: Tensor, batch: int, seqlen: int, check_order: bool = True
) -> None:
    """Raise a :class:`ValueError` unless ``seq_idx`` is a valid (batch, L) sequence index.

    Every sequence must fill one contiguous run of positions, so the index may
    not decrease along a row. ``check_order=False`` skips that test, which
    reads the values and so synchronizes a GPU.
    """
    if seq_idx.shape != (batch, seqlen):
        raise ValueError(
            f"Expected 'seq_idx' of shape {(batch, seqlen)}, got {tuple(seq_idx.shape)}"
        )
    if seq_idx.dtype.is_floating_point or seq_idx.dtype.is_complex or seq_idx.dtype == torch.bool:
        raise ValueError(f"Expected an integer 'seq_idx', got dtype {seq_idx.dtype}")
    if check_order and seqlen > 1 and bool((seq_idx[:, 1:] < seq_idx[:, :-1]).any()):
        raise ValueError(
            "Expected 'seq_idx' to be non-decreasing along each row, so that every "
            "sequence fills one contiguous run of positions"
        )


def _compute_dtype(x: Tensor) -> torch.dtype:
    # Half-precision inputs accumulate in float32, and float64 stays float64.
    return torch.promote_types(x.dtype, torch.float32)


def _decay_mask(dA_cumsum: Tensor, mask: Tensor) -> Tensor:
    """Return ``exp(dA[j+1] + ... + dA[i])`` where ``mask[i, j]`` holds, else 0.

    The segment sums are differences of the cumulative sum, as in the mamba-ssm
    kernels. The exponent is masked to ``-inf`` before ``exp`` so that the upper
    triangle (positive sums) cannot overflow and poison the gradient.

    Shapes:
        dA_cumsum: (..., T), mask: broadcastable to (..., T, T) -> (..., T, T)
    """
    segment_sum = dA_cumsum.unsqueeze(-1) - dA_cumsum.unsqueeze(-2)  # (..., T_i, T_j)
    return torch.exp(segment_sum.masked_fill(~mask, float("-inf")))


def ssd_chunked(
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    chunk_size: int,
    D: Tensor | None = None,
    initial_states: Tensor | None = None,
    seq_idx: Tensor | None = None,
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
        initial_states (Tensor, optional): State before the first position. With
            ``seq_idx`` it is the state of each row's first sequence.
            (default: :obj:`None`, zeros)
        seq_idx (Tensor, optional): Integer sequence index of every position,
            non-decreasing along each row. The state restarts from zero where
            it changes. (default: :obj:`None`, one sequence per row)
        return_final_state (bool, optional): Also return the state after the
            last position. (default: :obj:`False`)

    Shapes:
        - **x:** (batch, L, nheads, headdim)
        - **dt:** (batch, L, nheads)
        - **A**, **D:** (nheads,)
        - **B**, **C:** (batch, L, ngroups, d_state)
        - **initial_states:** (batch, nheads, headdim, d_state)
        - **seq_idx:** (batch, L)

    Returns:
        Tensor ``y`` of the shape and dtype of ``x``, and with
        ``return_final_state`` also the final state (batch, nheads, headdim,
        d_state) in the compute dtype. With ``seq_idx`` the final state is that
        of each row's last sequence.
    """
    _check_inputs(x, dt, A, B, C, D, initial_states, seq_idx)
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
        masks = _SequenceMasks(seq_idx, batch, num_chunks, chunk_size, pad, x.device)

        # 1. Intra-chunk outputs (diagonal blocks): a causal, attention-like
        #    product with scores (C_l . B_s) * exp(dA_{s+1} + ... + dA_l).
        scores = C_c @ B_c.transpose(-1, -2)  # (b, c, g, 1, l, s)
        scores = scores * _decay_mask(dA_cumsum, masks.intra)  # (b, c, g, r, l, s)
        y = scores @ (x_c * dt_c.unsqueeze(-1))  # (b, c, g, r, l, p)

        # 2. State each chunk builds from zero, decayed to the chunk's end.
        #    Weights go on B (d_state wide), which is cheaper than on x. With
        #    seq_idx only the chunk's last sequence counts.
        decay_to_end = torch.exp(dA_cumsum[..., -1:] - dA_cumsum)  # (b, c, g, r, l)
        weight = decay_to_end * dt_c
        if masks.to_end is not None:
            weight = weight * masks.to_end
        B_weighted = B_c * weight.unsqueeze(-1)  # (b, c, g, r, l, n)
        chunk_states = x_c.transpose(-1, -2) @ B_weighted  # (b, c, g, r, p, n)

        # 3. Inter-chunk recurrence: the state entering each chunk. A chunk in
        #    which a new sequence starts does not pass the old state on.
        if initial_states is None:
            state = x.new_zeros(
                (batch, ngroups, heads_per_group, headdim, d_state), dtype=dtype
            )
        else:
            state = initial_states.to(dtype).reshape(
                batch, ngroups, heads_per_group, headdim, d_state
            )
        chunk_decay = torch.exp(dA_cumsum[..., -1])  # (b, c, g, r)
        if masks.carries is not None:
            chunk_decay = chunk_decay * masks.carries
        # unbind, not indexing per chunk: the backward of one index op per
        # chunk would write a full-size gradient each time (quadratic cost).
        entering_states = []
        for decay, chunk_state in zip(chunk_decay.unbind(1), chunk_states.unbind(1)):
            entering_states.append(state)
            state = decay[..., None, None] * state + chunk_state  # (b, g, r, p, n)
        final_state = state.reshape(batch, nheads, headdim, d_state)

        # 4. Contribution of the entering state to every output of the chunk.
        if num_chunks > 0:
            states_in = torch.stack(entering_states, dim=1)  # (b, c, g, r, p, n)
            decay_from_start = torch.exp(dA_cumsum)  # (b, c, g, r, l)
            if masks.from_start is not None:
                decay_from_start = decay_from_start * masks.from_start
            C_decayed = C_c * decay_from_start.unsqueeze(-1)  # (b, c, g, r, l, n)
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


class _SequenceMasks:
    """Masks that keep the chunked scan inside the sequences given by ``seq_idx``.

    Without ``seq_idx`` only the causal mask is set and the others are
    :obj:`None`. Shapes broadcast against (b, c, g, r, ...) tensors:

    - ``intra`` (b, c, 1, 1, l, s): ``s <= l`` and both in one sequence.
    - ``to_end`` (b, c, 1, 1, l): position ``l`` is in the chunk's last sequence.
    - ``carries`` (b, c, 1, 1): the state entering the chunk belongs to the
      chunk's last sequence, so it passes through the chunk.
    - ``from_start`` (b, c, 1, 1, l): position ``l`` is in the sequence of the
      entering state. For the first chunk that is the row's first sequence.
    """

    def __init__(
        self,
        seq_idx: Tensor | None,
        batch: int,
        num_chunks: int,
        chunk_size: int,
        pad: int,
        device: torch.device,
    ) -> None:
        causal = torch.ones(chunk_size, chunk_size, dtype=torch.bool, device=device).tril()
        self.intra: Tensor = causal
        self.to_end: Tensor | None = None
        self.carries: Tensor | None = None
        self.from_start: Tensor | None = None
        if seq_idx is None or num_chunks == 0:
            return

        # Padded positions continue the last sequence of their row.
        seq = torch.cat([seq_idx, seq_idx[:, -1:].expand(batch, pad)], dim=1)
        seq = seq.reshape(batch, num_chunks, chunk_size)  # (b, c, l)
        last = seq[..., -1]  # (b, c)
        entering = torch.cat([seq[:, :1, 0], last[:, :-1]], dim=1)  # (b, c)

        same = seq.unsqueeze(-1) == seq.unsqueeze(-2)  # (b, c, l, s)
        self.intra = (causal & same)[:, :, None, None]
        self.to_end = (seq == last.unsqueeze(-1))[:, :, None, None]
        self.carries = (last == entering)[:, :, None, None]
        self.from_start = (seq == entering.unsqueeze(-1))[:, :, None, None]


def ssd_sequential(
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    chunk_size: int | None = None,
    D: Tensor | None = None,
    initial_states: Tensor | None = None,
    seq_idx: Tensor | None = None,
    return_final_state: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Run the Mamba2 recurrence one position at a time (slow reference).

    Computes :math:`H_t = \\exp(\\Delta_t A) H_{t-1} + \\Delta_t x_t B_t^\\top`
    and :math:`y_t = H_t C_t + D x_t` in a Python loop over ``t``, with
    :math:`H_{t-1}` set to zero where ``seq_idx`` changes. Arguments, shapes and
    return values are those of :func:`ssd_chunked`. ``chunk_size`` is accepted
    for a matching signature and ignored.
    """
    _check_inputs(x, dt, A, B, C, D, initial_states, seq_idx)

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
            if seq_idx is not None and t > 0:
                starts = seq_idx[:, t] != seq_idx[:, t - 1]  # (b,)
                state = state.masked_fill(starts[:, None, None, None], 0.0)
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
