"""Random-generator states as tensors and plain numbers, for weights-only checkpoints."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def capture_rng_state() -> dict[str, Any]:
    """Return the states of torch (CPU and CUDA), NumPy's and Python's global generators.

    Every value is a tensor, a number or None, so the result loads with
    ``torch.load(weights_only=True)``.
    """
    version, python_state, gauss = random.getstate()
    _, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.stack(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else None,
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": {"version": version, "state": torch.tensor(python_state, dtype=torch.int64), "gauss": gauss},
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Set the global generators to a state from :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    python_state = state["python"]
    random.setstate((python_state["version"], tuple(python_state["state"].tolist()), python_state["gauss"]))
