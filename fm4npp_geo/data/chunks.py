"""Chunk files of events: written atomically, checked for truncation, read
with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import logging
import os
import os.path as osp
import pickle
import re
import zipfile
from collections.abc import Sequence

import torch
from torch_geometric.data import Data
from torch_geometric.data.collate import collate

logger = logging.getLogger(__name__)

_TEMPORARY_NAME = re.compile(r'^\.(.+\.pt)\.(\d+)\.tmp$')


def save_chunk(data_list: Sequence[Data], path: str) -> None:
    r"""Save events to :obj:`path` as one collated :class:`Data` and its
    slices.

    The file is written as '.<name>.<pid>.tmp' next to :obj:`path`, flushed
    to disk and renamed over :obj:`path`. The rename is atomic on POSIX
    file systems, so a process killed at any moment leaves either no file or
    the complete one. Only dicts of tensors and numbers are stored, so that
    :func:`load_chunk` can read the file with ``weights_only=True``.

    Args:
        data_list (Sequence[Data]): The events, at least one.
        path (str): The chunk file.
    """
    if len(data_list) == 0:
        raise ValueError(f"Expected at least one event to save to {path}, "
                         f"got none")
    data, slices, _ = collate(Data, data_list, increment=False,
                              add_batch=False)
    temporary = osp.join(osp.dirname(path),
                         f'.{osp.basename(path)}.{os.getpid()}.tmp')
    try:
        with open(temporary, 'wb') as file:
            torch.save((data.to_dict(), slices), file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        if osp.exists(temporary):
            os.remove(temporary)


def load_chunk(path: str, num_events: int) -> tuple[Data, dict]:
    r"""Load a chunk file written by :func:`save_chunk`.

    Args:
        path (str): The chunk file.
        num_events (int): Number of events the file must contain.

    Returns:
        (Data, dict): The collated events and their slices, for
        :func:`torch_geometric.data.separate.separate`.
    """
    try:
        stored, slices = torch.load(path, weights_only=True)
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f"Chunk file {path} not found: it was removed after the dataset "
            f"was opened. Run the command again, which simulates the "
            f"missing chunks anew") from error
    except pickle.UnpicklingError as error:
        raise RuntimeError(
            f"Chunk file {path} contains objects that "
            f"torch.load(weights_only=True) rejects ({error}). A "
            f"pre_transform may add only tensors and numbers to events"
        ) from error
    except (RuntimeError, EOFError) as error:
        raise RuntimeError(
            f"Failed to read chunk file {path} ({error}); delete it and "
            f"construct the dataset again to simulate it anew") from error

    stored_events = len(next(iter(slices.values()))) - 1
    if stored_events != num_events:
        raise RuntimeError(
            f"Chunk file {path} contains {stored_events} events, expected "
            f"{num_events}; delete it and construct the dataset again to "
            f"simulate it anew")
    return Data.from_dict(stored), slices


def is_complete_chunk(path: str) -> bool:
    r"""Return whether :obj:`path` is a file that ends like a whole
    :func:`torch.save` archive. A truncated file fails the check, which
    reads only the end of the file."""
    # torch.save writes a zip archive whose central directory comes last.
    return osp.isfile(path) and zipfile.is_zipfile(path)


def _process_running(pid: int) -> bool:
    # Signal 0 checks that the process exists without signalling it. A
    # PermissionError means it exists but belongs to another user.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def remove_stale_temporaries(folder: str) -> None:
    r"""Remove the temporary files of :func:`save_chunk` in :obj:`folder`
    that belong to processes no longer running, which were killed while
    writing. Those of running processes belong to a concurrent run and are
    kept.

    .. note::
        The process id is looked up on this host only, so a run on another
        host that writes to the same shared folder can lose its temporary
        file and fail.
    """
    for name in os.listdir(folder):
        match = _TEMPORARY_NAME.match(name)
        if match and not _process_running(int(match.group(2))):
            logger.info("Removing %s, left by an interrupted run", name)
            os.remove(osp.join(folder, name))
