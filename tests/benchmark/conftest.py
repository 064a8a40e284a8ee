"""Fixtures for benchmark tests: small models registered as an importable module.

They implement the track-finder and classifier protocols without training,
and depend on their seed, so runs with different seeds give different numbers.
"""

from __future__ import annotations

import sys
import types

import pytest
import torch


class TruthTracker:
    """Return the truth particles as tracks, with a seed-dependent share of hits unassigned."""

    def __init__(self, drop: float = 0.2, seed: int = 0) -> None:
        self.drop = drop
        self.seed = seed
        self.fit_calls = 0

    def fit(self, train_events, val_events=None) -> dict[str, float]:
        self.fit_calls += 1
        return {"loss": 0.5 + self.seed, "not_a_number": float("nan"), "label": "text"}

    def predict(self, event) -> torch.Tensor:
        generator = torch.Generator().manual_seed(1000 * self.seed + event.num_nodes)
        labels = event.particle_id.clone()
        labels[torch.rand(event.num_nodes, generator=generator) < self.drop] = -1
        labels[event.particle_id == 0] = -1
        return labels

    def num_parameters(self) -> int:
        return 7

    def extra_metrics(self, events) -> dict[str, float]:
        return {"edge_efficiency": 0.9, "edge_purity": float("nan")}


class NoiseTagger:
    """Tag noise hits right, except a seed-dependent share flipped."""

    target = "noise_label"

    def __init__(self, flip: float = 0.1, seed: int = 0) -> None:
        self.flip = flip
        self.seed = seed

    def fit(self, train_events, val_events=None) -> dict[str, float]:
        return {}

    def predict(self, event) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed)
        labels = event.noise_label.long()
        flipped = torch.rand(event.num_nodes, generator=generator) < self.flip
        labels[flipped] = 1 - labels[flipped]
        return labels

    def num_parameters(self) -> int:
        return 3


class WrongShapeTracker(TruthTracker):
    """Return one label too few."""

    def predict(self, event) -> torch.Tensor:
        return super().predict(event)[:-1]


class NotAModel:
    """Lack the protocol methods."""

    def __init__(self, **kwargs) -> None:
        self.settings = kwargs


#: Module name under which hydra's ``_target_`` finds the classes above.
MODULE_NAME = "fm4npp_geo_test_toy_models"


@pytest.fixture
def toy_models(monkeypatch) -> str:
    """Make the classes above importable as ``MODULE_NAME``; return the name."""
    module = types.ModuleType(MODULE_NAME)
    for cls in (TruthTracker, NoiseTagger, WrongShapeTracker, NotAModel):
        setattr(module, cls.__name__, cls)
    monkeypatch.setitem(sys.modules, MODULE_NAME, module)
    return MODULE_NAME
