r"""TrackML submission files: one track id per hit of every event.

A submission is a CSV file with the columns ``event_id, hit_id, track_id``
and one row per hit. Track ids are non-negative integers that need to be
unique only within an event (LAL/trackml-library, ``README.md``). The
official score (``trackml/score.py`` there) gives track id 0 no special
meaning: it is one track like any other. A track earns the weights of its
majority particle's hits when more than half of its hits come from that
particle and it contains more than half of that particle's hits. Noise hits
and particles with three hits or fewer weigh nothing (``trackml/weights.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from fm4npp_geo.data.trackml import _column, _read_columns
from fm4npp_geo.data.trackml_writer import write_csv

_COLUMNS = ('event_id', 'hit_id', 'track_id')


def _integers(values: Tensor | np.ndarray, name: str,
              context: str = '') -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    values = np.asarray(values)
    is_integer = np.issubdtype(values.dtype, np.integer)
    if values.ndim != 1 or not (is_integer or values.size == 0):
        raise ValueError(f"Expected '{name}'{context} as a 1-D integer "
                         f"array, got dtype {values.dtype} and shape "
                         f"{list(values.shape)}")
    return values.astype(np.int64)


def submission_track_ids(track_label: Tensor | np.ndarray,
                         unassigned: int = -1) -> np.ndarray:
    r"""Turn predicted track labels into TrackML track ids.

    Labels :math:`\geq 0` are kept. Every hit labeled :obj:`unassigned`
    gets a track id of its own, counting up from one past the largest
    label, so it forms a one-hit track, which earns no score.

    Args:
        track_label (Tensor or np.ndarray): Predicted labels, shape [N].
        unassigned (int, optional): Label of hits on no track.
            (default: :obj:`-1`, the library's ``UNASSIGNED``)

    Returns:
        np.ndarray: ``int64`` track ids :math:`\geq 0`, shape [N].

    Raises:
        ValueError: If a label is negative and not :obj:`unassigned`.
    """
    labels = _integers(track_label, 'track_label')
    free = labels == unassigned
    invalid = (labels < 0) & ~free
    if np.any(invalid):
        raise ValueError(f"Track label {labels[invalid][0]} is negative; "
                         f"expected labels >= 0 or {unassigned} for hits on "
                         f"no track")
    track_id = labels.copy()
    first_free = int(labels[~free].max()) + 1 if np.any(~free) else 0
    track_id[free] = first_free + np.arange(int(free.sum()))
    return track_id


def write_trackml_submission(
    path: str | Path,
    predictions: Iterable[tuple[int, Tensor | np.ndarray,
                                Tensor | np.ndarray]],
    unassigned: int = -1,
) -> Path:
    r"""Write predicted tracks as a TrackML submission file.

    The file is written to a temporary name and renamed into place, and it
    is gzip-compressed when :obj:`path` ends in ``.gz``. Track labels pass
    through :func:`submission_track_ids`.

    Args:
        path (str or Path): The submission file.
        predictions (Iterable): One ``(event_id, hit_id, track_label)`` per
            event: the event number, the hit ids [N] of its hits file and the
            predicted labels [N].
        unassigned (int, optional): Label of hits on no track.
            (default: :obj:`-1`, the library's ``UNASSIGNED``)

    Returns:
        Path: The written file.

    Raises:
        ValueError: If an event id is negative or repeats, if hit ids repeat
            within an event, if hit ids and labels differ in length, or if a
            label is negative and not :obj:`unassigned`.
    """
    path = Path(path)
    rows = []
    seen = set()
    for event_id, hit_id, track_label in predictions:
        event_id = int(event_id)
        if event_id < 0 or event_id in seen:
            raise ValueError(f"Event id {event_id} is negative or appears "
                             f"twice; expected one entry per event")
        seen.add(event_id)

        context = f' of event {event_id}'
        hit_id = _integers(hit_id, 'hit_id', context)
        labels = _integers(track_label, 'track_label', context)
        if hit_id.shape != labels.shape:
            raise ValueError(f"Event {event_id}: {hit_id.shape[0]} hit ids "
                             f"but {labels.shape[0]} track labels; expected "
                             f"one label per hit")
        if np.unique(hit_id).shape[0] != hit_id.shape[0]:
            raise ValueError(f"Event {event_id}: 'hit_id' repeats a value; "
                             f"expected each hit once")
        track_id = submission_track_ids(labels, unassigned)
        rows.extend(zip([event_id] * hit_id.shape[0], hit_id.tolist(),
                        track_id.tolist()))

    write_csv(path, _COLUMNS, rows)
    return path


def read_trackml_submission(
        path: str | Path) -> dict[int, tuple[Tensor, Tensor]]:
    r"""Read a TrackML submission file, plain or gzip-compressed.

    Returns:
        dict[int, tuple[Tensor, Tensor]]: For every event id, in increasing
        order, its hit ids and track ids (``int64``, shape [N] each) in
        file order.

    Raises:
        FileNotFoundError: If :obj:`path` does not exist.
        ValueError: If the file is truncated or corrupt, lacks a column,
            contains a value that is not an integer or a negative track id,
            or lists a hit twice. The message names the file and the column.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"TrackML submission '{path}' not found")
    table = _read_columns(path, _COLUMNS)
    event_id, hit_id, track_id = (_column(table, name, np.int64, path)
                                  for name in _COLUMNS)
    if np.any(track_id < 0):
        row = int(np.flatnonzero(track_id < 0)[0])
        raise ValueError(f"Column 'track_id' of TrackML file '{path}' "
                         f"contains {track_id[row]} in data row {row + 1}; "
                         f"expected track ids >= 0")
    pairs = np.stack([event_id, hit_id], axis=1)
    if np.unique(pairs, axis=0).shape[0] != pairs.shape[0]:
        raise ValueError(f"Columns 'event_id' and 'hit_id' of TrackML file "
                         f"'{path}' list a hit twice; expected one row per "
                         f"hit")

    # A stable sort groups the rows by event and keeps the file order.
    order = np.argsort(event_id, kind='stable')
    events, starts = np.unique(event_id[order], return_index=True)
    groups = np.split(order, starts[1:])
    return {
        int(event): (torch.from_numpy(hit_id[rows]),
                     torch.from_numpy(track_id[rows]))
        for event, rows in zip(events, groups)
    }
