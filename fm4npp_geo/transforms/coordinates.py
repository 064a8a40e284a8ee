"""Cylindrical hit coordinates shared by the feature and serialization transforms."""

from __future__ import annotations

import torch
from torch import Tensor


def cylindrical(pos: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Return transverse radius r (cm), azimuth phi (rad, in [-pi, pi]) and
    pseudorapidity eta = asinh(z / r) of hits seen from the origin.

    Shapes:
        - **input:** pos :math:`(|V|, 3)`
        - **output:** three tensors :math:`(|V|,)`
    """
    if pos.dim() != 2 or pos.size(-1) != 3:
        raise ValueError(f"'pos' must have shape [num_hits, 3], got {tuple(pos.shape)}")
    x, y, z = pos.unbind(-1)
    # sqrt(x * x + y * y) as three rounded operations and a correctly rounded
    # root, so a NumPy or C implementation of the same formula gets the same
    # bits (hypot implementations differ in the last bit).
    r = torch.sqrt(x * x + y * y)
    phi = torch.atan2(y, x)
    # asinh(z / r) is the pseudorapidity of the direction from (0, 0, 0); the clamp
    # keeps a hit on the beam axis finite.
    eta = torch.asinh(z / r.clamp_min(1e-6))
    return r, phi, eta
