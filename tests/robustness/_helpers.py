"""Shared pieces of the robustness tests: a row of a case table and small
schema-valid events.

The test modules load this file with runpy, because pytest imports tests by
path (``--import-mode=importlib``) and a sibling module is not importable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from torch_geometric.data import Data


@dataclass(frozen=True)
class Case:
    """One row of a case table: an input and its exact outcome.

    ``run(tmp_path)`` builds the input and calls the code under test. The
    case expects either the exception ``error`` whose message matches the
    regular expression ``match``, or a result that passes ``check``.
    ``xfail`` marks a case that shows a known bug in code this suite may not
    change; the text says what is wrong.
    """

    name: str
    run: Callable[[Path], Any]
    error: type[BaseException] | None = None
    match: str | None = None
    check: Callable[[Any], None] | None = None
    xfail: str | None = None

    def __post_init__(self) -> None:
        if (self.error is None) == (self.check is None):
            raise ValueError(f"case {self.name!r} needs exactly one of 'error' and 'check'")

    def param(self) -> Any:
        marks = [pytest.mark.xfail(strict=True, reason=self.xfail)] if self.xfail else []
        return pytest.param(self, id=self.name, marks=marks)


def run_case(case: Case, tmp_path: Path) -> None:
    """Run ``case`` and assert its outcome."""
    if case.error is not None:
        with pytest.raises(case.error, match=case.match):
            case.run(tmp_path)
        return
    case.check(case.run(tmp_path))


def params(cases: list[Case]) -> list[Any]:
    """Return the cases as pytest parameters, checking that names are unique."""
    names = [case.name for case in cases]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"repeated case names {duplicates}")
    return [case.param() for case in cases]


def tpc_event(num_hits: int = 6) -> Data:
    """Return an event inside the default TPC with every per-hit attribute.

    Hits climb from r = 32 to 75 cm at |z| <= 50 cm; particles 1 and 2 own
    the first hits and the last hit is noise.
    """
    angle = torch.linspace(0.0, 1.0, num_hits)
    radius = torch.linspace(32.0, 75.0, num_hits)
    particle_id = torch.tensor([1, 1, 1, 2, 2, 0] * math.ceil(num_hits / 6))[:num_hits]
    return Data(
        pos=torch.stack([radius * angle.cos(), radius * angle.sin(), torch.linspace(-50.0, 50.0, num_hits)], 1),
        energy=torch.linspace(1.0, 2.0, num_hits),
        layer=torch.linspace(0, 47, num_hits).long(),
        x=torch.zeros(num_hits, 4),
        particle_id=particle_id,
        pid_label=(particle_id > 0).long(),
        noise_label=particle_id == 0,
        particle_pt=(particle_id > 0).float(),
        particle_eta=torch.zeros(num_hits),
        order=torch.arange(num_hits),
        weight=torch.full((num_hits,), 0.1),
        particle_vertex_r=torch.zeros(num_hits),
        particle_charge=(particle_id > 0).float(),
        is_primary=particle_id > 0,
        edge_index=torch.tensor([[0, 1], [1, 2]]),
        edge_y=torch.tensor([True, True]),
    )
