"""The interface of per-hit classifiers (PID, noise tagging) in a benchmark."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from torch import Tensor
from torch_geometric.data import Data

#: Per-hit targets a classifier can predict, with their number of classes.
CLASSIFIER_TARGETS: dict[str, int] = {"pid_label": 5, "noise_label": 2}


@runtime_checkable
class PointClassifier(Protocol):
    """A model that is trained on labeled events and predicts a class per hit.

    The benchmark builds each classifier from its config's ``_target_``, trains
    it with :meth:`fit`, and scores :meth:`predict` against the event attribute
    named by :attr:`target`: ``"pid_label"`` (0 other, 1 pion, 2 kaon, 3 proton,
    4 electron) or ``"noise_label"`` (0 signal, 1 noise).
    """

    #: The event attribute the classifier predicts, a key of ``CLASSIFIER_TARGETS``.
    target: str

    def fit(
        self,
        train_events: Sequence[Data],
        val_events: Sequence[Data] | None = None,
    ) -> dict[str, float]:
        """Train on labeled events and return summary numbers (losses, seconds)."""
        ...

    def predict(self, event: Data) -> Tensor:
        """Return a class label per hit, ``[num_hits]`` long."""
        ...

    def num_parameters(self) -> int:
        """Return the number of trainable parameters."""
        ...
