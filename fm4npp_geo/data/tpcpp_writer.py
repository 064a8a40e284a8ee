"""Writer of events into the TPCpp-10M file layout."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch_geometric.data import Data

from fm4npp_geo.data.tpcpp import TPCppLayout, find_shards
from fm4npp_geo.fileio import atomic_open

logger = logging.getLogger(__name__)

#: Event attribute written into each label component, keyed by its role.
_LABEL_SOURCES = {'track_ids': 'particle_id', 'pid_labels': 'pid_label',
                  'noise_tags': 'noise_label'}


def _event_points(data: Data, index: int) -> np.ndarray:
    for name in ('pos', 'energy'):
        if name not in data:
            raise ValueError(f"Event {index} has no '{name}'; expected "
                             f"'pos' [N, 3] and 'energy' [N]")
    pos = data.pos.detach().cpu().numpy()
    energy = data.energy.detach().cpu().numpy()
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"Event {index}: expected 'pos' of shape [N, 3], "
                         f"got {list(pos.shape)}")
    if energy.shape != (pos.shape[0],):
        raise ValueError(f"Event {index}: expected 'energy' of shape "
                         f"[{pos.shape[0]}], got {list(energy.shape)}")
    points = np.concatenate([energy[:, None], pos], axis=1)
    if not np.isfinite(points).all():
        raise ValueError(f"Event {index}: 'pos' or 'energy' contains a "
                         f"non-finite value, which the reader rejects")
    return points.astype(np.float32)


def _event_label(data: Data, attribute: str, num_hits: int,
                 index: int) -> np.ndarray:
    values = data[attribute].detach().cpu().numpy()
    if values.shape != (num_hits,):
        raise ValueError(f"Event {index}: expected '{attribute}' of shape "
                         f"[{num_hits}], got {list(values.shape)}")
    if np.issubdtype(values.dtype, np.floating):
        raise ValueError(f"Event {index}: expected integer '{attribute}', "
                         f"got dtype {values.dtype}")
    if attribute == 'noise_label':
        if np.any((values != 0) & (values != 1)):
            raise ValueError(f"Event {index}: 'noise_label' must be 0/1 or "
                             f"boolean")
        return values.astype(bool)
    if attribute == 'pid_label' and np.any((values < 0) | (values > 4)):
        raise ValueError(f"Event {index}: 'pid_label' must be a PID class "
                         f"in 0..4, got {values.min()}..{values.max()}")
    return values.astype(np.int64)


def _labels_to_write(events: Sequence[Data]) -> dict[str, str]:
    # A label component is written when every event has its attribute.
    roles = {}
    for role, attribute in _LABEL_SOURCES.items():
        present = [attribute in data for data in events]
        if all(present):
            roles[role] = attribute
        elif any(present):
            index = present.index(False)
            raise ValueError(f"Event {index} has no '{attribute}' but other "
                             f"events do; give it to every event or to "
                             f"none")
    return roles


def write_tpcpp(
    events: Sequence[Data],
    root: str | Path,
    events_per_file: int = 1000,
    layout: TPCppLayout | None = None,
    folders: bool = False,
) -> list[Path]:
    r"""Write events into a new TPCpp-10M split folder.

    Every shard of :obj:`events_per_file` events gets a spacepoint archive
    with the (E, x, y, z) rows (``float32``) and the event sizes, and one
    archive per label: ``track_ids`` from ``particle_id`` (0 for noise),
    ``pid_labels`` from ``pid_label`` and ``noise_tags`` from
    ``noise_label``. A label is written only when every event has its
    attribute. Shards are named ``000``, ``001``, ...:
    ``root/spacepoints_000.npz`` and so on, or ``root/spacepoints/000.npz``
    when :obj:`folders` is set.

    Each archive is written to a temporary file and renamed into place, the
    labels of a shard before its spacepoints. A reader that finds a
    spacepoint archive therefore finds its labels too, and an interrupted
    write leaves no partial archive behind.

    Args:
        events (Sequence[Data]): Events with ``pos`` [N, 3] in cm and
            ``energy`` [N].
        root (str or Path): The split folder, created when missing. It must
            not yet contain archives of the layout.
        events_per_file (int, optional): Events per shard.
            (default: :obj:`1000`)
        layout (TPCppLayout, optional): File and key names; the defaults
            when :obj:`None`. (default: :obj:`None`)
        folders (bool, optional): Write one folder per component instead of
            numbered files side by side. (default: :obj:`False`)

    Returns:
        list[Path]: The spacepoint archives, in event order.

    Raises:
        ValueError: If there are no events, if :obj:`events_per_file` < 1, if
            an event has inconsistent shapes or non-finite values, or if
            only some events have a label attribute.
        FileExistsError: If :obj:`root` already contains archives of the
            layout.
    """
    layout = layout or TPCppLayout()
    root = Path(root)
    if events_per_file < 1:
        raise ValueError(f"Expected events_per_file >= 1, got "
                         f"{events_per_file}")
    if len(events) == 0:
        raise ValueError("Expected at least one event to write, got none")
    for name in (layout.spacepoints, *layout.label_names.values()):
        existing = find_shards(root, name)
        if existing:
            raise FileExistsError(
                f"'{next(iter(existing.values()))}' already exists; write "
                f"into a new folder so that no old shard mixes with the "
                f"new ones")
    roles = _labels_to_write(events)

    # Check every event before the first file is written.
    for index, data in enumerate(events):
        num_hits = _event_points(data, index).shape[0]
        for attribute in roles.values():
            _event_label(data, attribute, num_hits, index)

    num_files = -(-len(events) // events_per_file)
    width = max(3, len(str(num_files - 1)))
    written = []
    for file_index in range(num_files):
        chunk = events[file_index * events_per_file:
                       (file_index + 1) * events_per_file]
        first = file_index * events_per_file
        shard = f'{file_index:0{width}d}'

        rows, labels = [], {role: [] for role in roles}
        for offset, data in enumerate(chunk):
            points = _event_points(data, first + offset)
            rows.append(points)
            for role, attribute in roles.items():
                labels[role].append(_event_label(
                    data, attribute, points.shape[0], first + offset))

        # Labels first and spacepoints last, so a visible shard is complete.
        for role, values in labels.items():
            path = _path(root, layout.label_names[role], shard, folders)
            _write_archive(path, {layout.label_key: np.concatenate(values)})
        path = _path(root, layout.spacepoints, shard, folders)
        _write_archive(path, {
            layout.points_key: np.concatenate(rows),
            layout.sizes_key: np.array([len(points) for points in rows],
                                       dtype=np.int64),
        })
        written.append(path)
    logger.info("Wrote %d events into %d TPCpp shards in '%s'", len(events),
                num_files, root)
    return written


def _path(root: Path, name: str, shard: str, folders: bool) -> Path:
    if folders:
        return root / name / f'{shard}.npz'
    return root / f'{name}_{shard}.npz'


def _write_archive(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_open(path, 'wb') as file:
        np.savez_compressed(file, **arrays)
