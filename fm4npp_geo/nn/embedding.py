"""The FM4NPP input embedding of detector hits."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["HitEmbedding"]


class HitEmbedding(nn.Module):
    """Embed hit features as in FM4NPP (arXiv 2508.14087).

    Column 0 of the input is the standardized energy :math:`E`, the remaining
    columns are coordinates :math:`p` (eta, phi, r) scaled to about [-1, 1] or
    [0, 1]. Each coordinate gets a NeRF-style sinusoidal encoding

    .. math::
        \\gamma(p) = \\big(\\sin(2^k \\pi p), \\cos(2^k \\pi p)\\big)_{k=0}^{K-1},

    and the output is

    .. math::
        h = E \\, v_E + W \\gamma(p),

    with a random vector :math:`v_E \\sim \\mathcal{N}(0, I)` and a random matrix
    :math:`W` whose entries have variance ``2 / W.size(1)``, so each output
    channel has about unit variance. Both are drawn once from a generator seeded
    with ``seed`` and kept fixed (buffers) unless ``learnable=True``.

    NOTE: the FM4NPP public code (repository FM4NPP/PP_collision, file
    fm4npp/models/embed.py) draws :math:`W` with unit variance, uses
    frequencies :math:`2^k` without the factor :math:`\\pi` and also feeds the
    raw coordinates into :math:`W`.

    Args:
        d_model (int): Output size.
        in_features (int, optional): Input columns: energy plus coordinates.
            (default: :obj:`4`)
        num_frequencies (int, optional): Frequencies :math:`K` per coordinate.
            (default: :obj:`10`)
        learnable (bool, optional): Train :math:`v_E` and :math:`W` as
            parameters instead of keeping them fixed. (default: :obj:`False`)
        seed (int, optional): Seed of the random draw. (default: :obj:`0`)

    Shapes:
        - **input:** (*, in_features)
        - **output:** (*, d_model)
    """

    def __init__(
        self,
        d_model: int,
        in_features: int = 4,
        num_frequencies: int = 10,
        learnable: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if d_model <= 0:
            raise ValueError(f"Expected a positive 'd_model', got {d_model}")
        if in_features < 2:
            raise ValueError(
                f"Expected 'in_features' >= 2 (energy and at least one "
                f"coordinate), got {in_features}"
            )
        if num_frequencies <= 0:
            raise ValueError(
                f"Expected a positive 'num_frequencies', got {num_frequencies}"
            )
        self.d_model = d_model
        self.in_features = in_features
        self.num_frequencies = num_frequencies
        self.learnable = learnable
        self.seed = seed

        encoding_dim = 2 * num_frequencies * (in_features - 1)
        # Drawn on the CPU, so the same seed gives the same model on every
        # device, then moved to the default device (meta when only counting).
        generator = torch.Generator().manual_seed(seed)
        default_device = torch.empty(0).device
        energy_weight = torch.randn(d_model, generator=generator, device="cpu")
        coord_weight = torch.randn(d_model, encoding_dim, generator=generator, device="cpu")
        coord_weight = coord_weight * math.sqrt(2.0 / encoding_dim)
        energy_weight = energy_weight.to(default_device)
        coord_weight = coord_weight.to(default_device)

        if learnable:
            self.energy_weight = nn.Parameter(energy_weight)
            self.coord_weight = nn.Parameter(coord_weight)
        else:
            self.register_buffer("energy_weight", energy_weight)
            self.register_buffer("coord_weight", coord_weight)

        frequencies = math.pi * 2.0 ** torch.arange(num_frequencies)
        self.register_buffer("frequencies", frequencies, persistent=False)

    def encode_coordinates(self, coords: Tensor) -> Tensor:
        """Return the sinusoidal encoding :math:`\\gamma` of the coordinates.

        Shapes:
            coords: (*, in_features - 1) -> (*, 2 * num_frequencies * (in_features - 1)),
            all sines first, each coordinate's frequencies together.
        """
        angles = coords.unsqueeze(-1) * self.frequencies.to(coords.dtype)  # (*, c, K)
        angles = angles.flatten(-2)  # (*, c * K)
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        """Embed hit features ``x`` into ``d_model`` channels."""
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"Expected input features of size {self.in_features} in the last "
                f"dimension, got shape {tuple(x.shape)}"
            )
        energy = x[..., :1]
        encoding = self.encode_coordinates(x[..., 1:])
        energy_weight = self.energy_weight.to(x.dtype)
        coord_weight = self.coord_weight.to(x.dtype)
        return energy * energy_weight + encoding @ coord_weight.t()

    def extra_repr(self) -> str:
        return (
            f"{self.in_features}, {self.d_model}, "
            f"num_frequencies={self.num_frequencies}, learnable={self.learnable}, "
            f"seed={self.seed}"
        )
