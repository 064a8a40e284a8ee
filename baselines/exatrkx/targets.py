"""Target particles: the particles whose edges weigh in training and metrics."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import Data


@dataclass(frozen=True)
class TargetRule:
    """Rule selecting the target particles for edge weights and edge metrics.

    A hit belongs to a target particle when its particle is not noise and
    passes every cut below. Cuts that need a per-hit attribute the event does
    not have raise a ``ValueError`` instead of being skipped.

    Args:
        min_pt (float): Minimum transverse momentum in GeV, from
            ``particle_pt``. 0 keeps every particle.
        min_hits (int): Minimum number of the particle's hits in the event.
        min_layers (int): Minimum number of distinct layers among the
            particle's hits, from ``layer``. 0 skips the cut.
        primary_only (bool): Keep only primary particles, from
            ``is_primary``.
    """

    min_pt: float = 0.0
    min_hits: int = 3
    min_layers: int = 0
    primary_only: bool = False

    def __post_init__(self) -> None:
        if self.min_pt < 0 or self.min_hits < 1 or self.min_layers < 0:
            raise ValueError(
                f"Expected min_pt >= 0 GeV, min_hits >= 1 and min_layers >= 0, "
                f"got min_pt={self.min_pt}, min_hits={self.min_hits} and "
                f"min_layers={self.min_layers}"
            )

    def hit_mask(self, data: Data) -> Tensor:
        """Mark the hits that belong to a target particle.

        Args:
            data (torch_geometric.data.Data): An event with ``particle_id``
                (0 for noise) and the attributes the active cuts read.

        Shapes:
            - **output:** :math:`(|V|)`

        Returns:
            A boolean tensor, true for hits of target particles.
        """
        particle_id = data.particle_id
        keep = particle_id > 0
        if particle_id.numel() == 0:
            return keep

        if self.min_pt > 0:
            keep &= _attribute(data, "particle_pt", "min_pt") >= self.min_pt
        if self.primary_only:
            keep &= _attribute(data, "is_primary", "primary_only").bool()

        # Per-particle counts through a dense index of the event's particles.
        _, index = torch.unique(particle_id, return_inverse=True)
        num_hits = torch.bincount(index)
        keep &= num_hits[index] >= self.min_hits
        if self.min_layers > 0:
            layer = _attribute(data, "layer", "min_layers")
            pairs = torch.unique(torch.stack([index, layer.to(index.device)]), dim=1)
            num_layers = torch.bincount(pairs[0], minlength=num_hits.numel())
            keep &= num_layers[index] >= self.min_layers
        return keep


def _attribute(data: Data, name: str, cut: str) -> Tensor:
    value = getattr(data, name, None)
    if value is None:
        raise ValueError(
            f"The target rule's '{cut}' cut needs the per-hit attribute "
            f"'{name}', which the event does not have"
        )
    return value
