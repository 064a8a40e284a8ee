"""Atomic checkpoint files that load without arbitrary unpickling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from fm4npp_geo.fileio import atomic_open


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> Path:
    """Write ``payload`` with :func:`torch.save` atomically (see :func:`atomic_open`).

    A process killed at any moment leaves either the previous file or the new
    one, never a partial file.
    """
    path = Path(path)
    with atomic_open(path, "wb") as file:
        torch.save(payload, file)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(weights_only=True)``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is truncated, corrupt, or needs arbitrary unpickling.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several types for bad files
        raise ValueError(
            f"cannot load checkpoint {path}: {error}. The file is corrupt or truncated, or "
            "it holds objects that need arbitrary unpickling, which is not allowed"
        ) from error
