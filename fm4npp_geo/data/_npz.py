"""Checked access to arrays in NumPy ``.npz`` archives.

Every failure is a :class:`ValueError` that names the archive and the key,
whatever NumPy or :mod:`zipfile` raised underneath.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

# Exceptions of np.load and zipfile on truncated, corrupt or unreadable files.
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError)


def npz_keys(path: Path) -> list[str]:
    r"""Return the array keys stored in the archive :obj:`path`."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except _READ_ERRORS as error:
        raise ValueError(f"Failed to open '{path}' as a .npz archive: "
                         f"{error}. The file is truncated or corrupt; "
                         f"write it again.") from error
    return [name[:-len('.npy')] for name in names if name.endswith('.npy')]


def _check_key(path: Path, key: str, keys: list[str]) -> None:
    if key not in keys:
        raise ValueError(f"Archive '{path}' has no key '{key}'; found "
                         f"{sorted(keys)}. Check the key names passed to "
                         f"the reader.")


def npz_shape(path: Path, key: str) -> tuple[tuple[int, ...], np.dtype]:
    r"""Return the shape and dtype of the array :obj:`key` in the archive
    :obj:`path` from its header alone, without reading the array."""
    _check_key(path, key, npz_keys(path))
    try:
        with zipfile.ZipFile(path) as archive:
            with archive.open(f'{key}.npy') as file:
                version = np.lib.format.read_magic(file)
                if version == (1, 0):
                    header = np.lib.format.read_array_header_1_0(file)
                elif version == (2, 0):
                    header = np.lib.format.read_array_header_2_0(file)
                else:
                    raise ValueError(f"unsupported .npy format version "
                                     f"{version}")
    except _READ_ERRORS as error:
        raise ValueError(f"Failed to read the header of '{key}' in "
                         f"'{path}': {error}. The file is truncated or "
                         f"corrupt; write it again.") from error
    shape, _, dtype = header
    return shape, dtype


def load_npz(path: Path, keys: list[str]) -> dict[str, np.ndarray]:
    r"""Load the arrays :obj:`keys` from the archive :obj:`path`.

    Raises:
        ValueError: If the archive cannot be read, lacks a key, or stores
            an object array (pickles are never loaded).
    """
    stored = npz_keys(path)
    for key in keys:
        _check_key(path, key, stored)
    arrays = {}
    key = keys[0] if keys else ''
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in keys:
                arrays[key] = archive[key]
    except _READ_ERRORS as error:
        raise ValueError(f"Failed to read '{key}' from '{path}': {error}. "
                         f"The file is truncated or corrupt; write it "
                         f"again.") from error
    return arrays
