"""The interface every track finder in a benchmark implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from torch import Tensor
from torch_geometric.data import Data

from fm4npp_geo.metrics import UNASSIGNED

__all__ = ["UNASSIGNED", "TrackFinder"]


@runtime_checkable
class TrackFinder(Protocol):
    """A model that is trained on labeled events and assigns hits to tracks.

    The benchmark builds each track finder from its config's ``_target_``, so a
    user's own model plugs in by implementing these three methods.
    """

    def fit(
        self,
        train_events: Sequence[Data],
        val_events: Sequence[Data] | None = None,
    ) -> dict[str, float]:
        """Train on labeled events and return summary numbers (losses, seconds)."""
        ...

    def predict(self, event: Data) -> Tensor:
        """Return a track label per hit, ``[num_hits]`` long.

        Labels are arbitrary non-negative integers; :data:`UNASSIGNED` marks a hit
        that belongs to no track.
        """
        ...

    def num_parameters(self) -> int:
        """Return the number of trainable parameters."""
        ...
