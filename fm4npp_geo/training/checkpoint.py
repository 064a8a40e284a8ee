"""Atomic checkpoint files that load without arbitrary unpickling."""

from __future__ import annotations

import logging
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from fm4npp_geo.fileio import atomic_open

logger = logging.getLogger(__name__)

_STEP_FILE = re.compile(r"^step_(\d+)\.pt$")
# atomic_open writes '.<name>.<random>.tmp' next to the file.
_PARTIAL_FILE = re.compile(r"^\.step_\d+\.pt\..+\.tmp$")


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

    Only tensors and plain Python values (numbers, strings, lists, tuples,
    dicts) load; a file that needs any other class is rejected, because
    unpickling it could run arbitrary code.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is truncated or corrupt, needs arbitrary
            unpickling, or does not contain a dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if "weights_only" in str(error) or "Weights only" in str(error):
            raise ValueError(
                f"checkpoint {path} contains objects that need arbitrary unpickling, which is not allowed "
                "because it could run code from the file; save only tensors and plain Python values"
            ) from error
        raise ValueError(f"checkpoint {path} is corrupt or truncated: {error}") from error
    except (RuntimeError, EOFError, ValueError, KeyError, IndexError, OSError) as error:
        # torch.load raises these for a damaged zip archive or pickle stream.
        raise ValueError(f"checkpoint {path} is corrupt or truncated: {error}") from error
    if not isinstance(payload, dict):
        raise ValueError(f"checkpoint {path} must contain a dict, got {type(payload).__name__}")
    return payload


def checkpoint_path(folder: str | Path, step: int) -> Path:
    """Return the file name of the checkpoint after ``step`` optimizer steps."""
    return Path(folder) / f"step_{step:08d}.pt"


def list_checkpoints(folder: str | Path) -> list[tuple[int, Path]]:
    """Return the ``(step, path)`` of the step checkpoints in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _STEP_FILE.match(path.name)
        if match and path.is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def remove_partial_checkpoints(folder: str | Path) -> list[Path]:
    """Delete the temporary files that :func:`save_checkpoint` leaves when killed while writing.

    Call it only when no other process writes checkpoints to ``folder``, as
    when a run resumes. Returns the deleted files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    partial = [path for path in folder.iterdir() if _PARTIAL_FILE.match(path.name) and path.is_file()]
    for path in partial:
        logger.info("removing %s, left by a run killed while writing it", path)
        path.unlink(missing_ok=True)
    return partial


def prune_checkpoints(folder: str | Path, keep: int) -> None:
    """Delete all but the ``keep`` newest step checkpoints in ``folder``."""
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    for _, path in list_checkpoints(folder)[:-keep]:
        path.unlink(missing_ok=True)
        logger.debug("removed old checkpoint %s", path)
