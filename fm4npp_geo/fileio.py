"""Atomic file writes: a reader sees the old file or the new one, never a part."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file next to ``path`` and rename it over ``path`` on success.

    The data is flushed and fsynced before the rename, and the rename is atomic
    on POSIX file systems, so a process killed at any moment leaves either the
    previous file or the complete new one. On an exception the temporary file is
    removed and ``path`` is untouched. Missing parent folders are created.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file readable by its owner only; give it the
        # permissions of any new file under the current umask.
        os.chmod(temporary, 0o666 & ~_current_umask())
        with os.fdopen(handle, mode, encoding=encoding) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, values: dict) -> Path:
    """Write ``values`` to a JSON file atomically (see :func:`atomic_open`)."""
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8") as file:
        json.dump(values, file, indent=2)
    return path


def read_json_object(path: str | Path, description: str) -> dict:
    """Read a JSON file that must hold one object.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not valid JSON or not an object; the message
            names ``description`` and the file.
    """
    path = Path(path)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{description} {path} are not valid JSON: {error}; fit them again") from error
    if not isinstance(values, dict):
        raise ValueError(f"{description} {path} must hold a JSON object, got {type(values).__name__}")
    return values
