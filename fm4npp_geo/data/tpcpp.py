r"""Reader for the TPCpp-10M event files published with FM4NPP.

TPCpp-10M (Zenodo record 16970029) contains sPHENIX TPC spacepoints of PYTHIA 8
p+p events at 200 GeV. The layout below follows the FM4NPP repository
(FM4NPP/PP_collision: ``scripts/prepare_data.py`` and ``SETUP.md``, which
convert the Zenodo files, and ``README.md``):

- A split folder (such as ``labeled/train``) contains one ``.npz`` archive per
  component: ``spacepoints``, ``track_ids``, ``pid_labels`` and
  ``noise_tags``. A large split is sharded into ``<component>_000.npz``,
  ``<component>_001.npz``, ..., a small one is a single ``<component>.npz``.
  The repository's README shows one folder per component instead
  (``spacepoints/``, ``track_ids/``, ...). Both layouts are read. In the
  folder layout a shard is a file name that every component folder shares.
- A spacepoint archive stores ``data``, the (E, x, y, z) rows of all its
  events one after another as a [total_hits, 4] array, and ``size``, the
  number of rows of each event.
- A label archive stores ``data``, one entry per row of the spacepoint
  archive of the same shard, in the same order: the truth track of the hit
  (``track_ids``), its PID class (``pid_labels``: 0 other, 1 pion, 2 kaon,
  3 proton, 4 electron, as in this library) and whether it is noise
  (``noise_tags``; FM4NPP counts hits of particles below 0.06 GeV in pT as
  noise).

Positions are in cm: FM4NPP's loader scales r over [31.372, 75.385], the
radial extent of the sPHENIX TPC in cm. ``E`` is the deposited charge in
ADC-like units.

NOTE: The README calls the PID component ``particle_ids`` and lists its
classes as electron, photon, pion, kaon and proton. The Zenodo converter reads
``pid_labels`` with the class numbers above, which this reader assumes. Every
file and key name is an argument of :class:`TPCppLayout`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

from fm4npp_geo.data._npz import load_npz, npz_shape
from fm4npp_geo.data.geometry import TPCGeometry
from fm4npp_geo.data.validate import DetectorVolume, validate_event

#: Largest PID class in ``pid_labels`` (4 = electron).
_MAX_PID_CLASS = 4


@dataclass(frozen=True)
class TPCppLayout:
    r"""File and key names of a TPCpp-10M split folder.

    Args:
        spacepoints (str, optional): Name of the spacepoint archives.
            (default: :obj:`'spacepoints'`)
        track_ids (str, optional): Name of the truth-track archives.
            (default: :obj:`'track_ids'`)
        pid_labels (str, optional): Name of the PID-class archives.
            (default: :obj:`'pid_labels'`)
        noise_tags (str, optional): Name of the noise-tag archives.
            (default: :obj:`'noise_tags'`)
        points_key (str, optional): Key of the [total_hits, 4] (E, x, y, z)
            array in a spacepoint archive. (default: :obj:`'data'`)
        sizes_key (str, optional): Key of the per-event row counts in a
            spacepoint archive. (default: :obj:`'size'`)
        label_key (str, optional): Key of the per-hit array in a label
            archive. (default: :obj:`'data'`)
    """

    spacepoints: str = 'spacepoints'
    track_ids: str = 'track_ids'
    pid_labels: str = 'pid_labels'
    noise_tags: str = 'noise_tags'
    points_key: str = 'data'
    sizes_key: str = 'size'
    label_key: str = 'data'

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"Expected a non-empty string for "
                                 f"'{field.name}', got {value!r}")
        names = [self.spacepoints, *self.label_names.values()]
        if len(set(names)) != len(names):
            raise ValueError(f"Expected four distinct component names, got "
                             f"{names}")
        if self.points_key == self.sizes_key:
            raise ValueError(f"Expected different points_key and sizes_key, "
                             f"got '{self.points_key}' for both")

    @property
    def label_names(self) -> dict[str, str]:
        r"""File name of each label component, keyed by its role."""
        return {'track_ids': self.track_ids, 'pid_labels': self.pid_labels,
                'noise_tags': self.noise_tags}


def find_shards(root: str | Path, name: str) -> dict[str, Path]:
    r"""Find the archives of the component :obj:`name` in :obj:`root`.

    Returns:
        dict[str, Path]: The archives keyed by shard name and sorted by it:
        ``{'': root/name.npz}`` for a single file, ``{'000': ...}`` for
        ``name_000.npz`` and so on, ``{'000': ...}`` for ``name/000.npz``.
        Empty when the component is absent.

    Raises:
        ValueError: If the component is stored in more than one of these
            layouts at once.
    """
    root = Path(root)
    single = root / f'{name}.npz'
    numbered = sorted(root.glob(f'{name}_[0-9]*.npz'))
    folder = root / name
    nested = sorted(folder.glob('*.npz')) if folder.is_dir() else []
    used = [pattern for pattern, found in (
        (single.name, single.is_file()),
        (f'{name}_NNN.npz', bool(numbered)),
        (f'{name}/*.npz', bool(nested)),
    ) if found]
    if len(used) > 1:
        raise ValueError(f"Folder '{root}' stores '{name}' in more than one "
                         f"layout ({used}); keep only one of them")
    if single.is_file():
        return {'': single}
    if numbered:
        return {path.stem[len(name) + 1:]: path for path in numbered}
    return {path.stem: path for path in nested}


def layer_from_radius(radius: np.ndarray,
                      geometry: TPCGeometry | None = None) -> np.ndarray:
    r"""Return the pad row whose radial extent contains each radius.

    A radius inside the TPC's rows maps to the row it falls in. A radius
    below the first row maps to the first row, one beyond the last row to the
    last.

    Args:
        radius (np.ndarray): Transverse radii in cm.
        geometry (TPCGeometry, optional): The TPC; the sPHENIX-like default
            when :obj:`None`. (default: :obj:`None`)

    Returns:
        np.ndarray: ``int64`` row indices with the shape of :obj:`radius`.
    """
    geometry = geometry or TPCGeometry()
    upper_edges = geometry.layer_radii + 0.5 * geometry.row_thickness
    return np.searchsorted(upper_edges[:-1], radius,
                           side='right').astype(np.int64)


@dataclass(frozen=True)
class _Shard:
    spacepoints: Path
    labels: dict[str, Path]
    sizes: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        return np.cumsum(self.sizes) - self.sizes


def _index_shard(spacepoints: Path, labels: dict[str, Path],
                 layout: TPCppLayout) -> _Shard:
    # Check everything that the headers and the size array tell, so that a
    # dataset rejects an inconsistent folder before its first event.
    points_key, sizes_key = layout.points_key, layout.sizes_key
    sizes = load_npz(spacepoints, [sizes_key])[sizes_key]
    if sizes.ndim != 1 or not np.issubdtype(sizes.dtype, np.integer):
        raise ValueError(
            f"'{sizes_key}' in '{spacepoints}' must be a 1-D integer array "
            f"of rows per event, got dtype {sizes.dtype} and shape "
            f"{list(sizes.shape)}")
    if np.any(sizes < 0):
        raise ValueError(f"'{sizes_key}' in '{spacepoints}' contains a "
                         f"negative event size {int(sizes.min())}")
    total = int(sizes.sum())

    shape, dtype = npz_shape(spacepoints, points_key)
    if len(shape) != 2 or shape[1] != 4:
        raise ValueError(
            f"'{points_key}' in '{spacepoints}' must have shape "
            f"[total_hits, 4] with columns (E, x, y, z), got {list(shape)}")
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"'{points_key}' in '{spacepoints}' must hold "
                         f"floats, got dtype {dtype}")
    if shape[0] != total:
        raise ValueError(
            f"'{points_key}' in '{spacepoints}' has {shape[0]} rows but "
            f"'{sizes_key}' adds up to {total}; the event sizes must cover "
            f"every row once")

    for role, path in labels.items():
        shape, dtype = npz_shape(path, layout.label_key)
        if shape != (total,):
            raise ValueError(
                f"'{layout.label_key}' in '{path}' has shape {list(shape)}, "
                f"expected [{total}]: one {role} entry per row of "
                f"'{spacepoints}'")
        if not (np.issubdtype(dtype, np.integer) or dtype == np.bool_):
            raise ValueError(f"'{layout.label_key}' in '{path}' must hold "
                             f"integers or booleans, got dtype {dtype}")
    return _Shard(spacepoints, labels, sizes.astype(np.int64))


def _index_folder(root: Path, layout: TPCppLayout) -> list[_Shard]:
    spacepoints = find_shards(root, layout.spacepoints)
    if not spacepoints:
        name = layout.spacepoints
        raise FileNotFoundError(
            f"No TPCpp spacepoint archives in '{root}': expected "
            f"'{name}.npz', '{name}_000.npz', ... or '{name}/*.npz'")

    label_shards = {}
    for role, name in layout.label_names.items():
        found = find_shards(root, name)
        if not found:
            continue
        for key, path in spacepoints.items():
            if key not in found:
                raise ValueError(f"'{path}' has no matching '{name}' "
                                 f"archive (shard '{key}') in '{root}'")
        for key, path in found.items():
            if key not in spacepoints:
                raise ValueError(f"'{path}' has no matching spacepoint "
                                 f"archive (shard '{key}') in '{root}'")
        label_shards[role] = found

    return [
        _index_shard(path, {role: found[key]
                            for role, found in label_shards.items()}, layout)
        for key, path in spacepoints.items()
    ]


def _load_shard(shard: _Shard, layout: TPCppLayout) -> dict[str, np.ndarray]:
    key = layout.points_key
    points = load_npz(shard.spacepoints, [key])[key]
    total = int(shard.sizes.sum())
    if points.shape != (total, 4):
        raise ValueError(f"'{key}' in '{shard.spacepoints}' changed to shape "
                         f"{list(points.shape)} after it was indexed as "
                         f"[{total}, 4]")
    finite = np.isfinite(points)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise ValueError(
            f"'{key}' in '{shard.spacepoints}' contains {points[row, column]} "
            f"in column {'Exyz'[column]!r} of row {row}; expected finite "
            f"(E, x, y, z) values")

    arrays = {'points': points}
    for role, path in shard.labels.items():
        values = load_npz(path, [layout.label_key])[layout.label_key]
        if values.shape != (total,):
            raise ValueError(f"'{layout.label_key}' in '{path}' changed to "
                             f"shape {list(values.shape)} after it was "
                             f"indexed as [{total}]")
        if role == 'pid_labels':
            _check_range(values, 0, _MAX_PID_CLASS, path, layout.label_key,
                         'a PID class (0 other, 1 pion, 2 kaon, 3 proton, '
                         '4 electron)')
        if role == 'noise_tags':
            _check_range(values, 0, 1, path, layout.label_key,
                         'a noise tag (0 or 1)')
        arrays[role] = values
    return arrays


def _check_range(values: np.ndarray, low: int, high: int, path: Path,
                 key: str, meaning: str) -> None:
    bad = (values < low) | (values > high)
    if np.any(bad):
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"'{key}' in '{path}' contains {values[row]} in row "
                         f"{row}; expected {meaning}")


def _particle_ids(track_id: np.ndarray,
                  noise_track_id: int | None) -> np.ndarray:
    # Number the tracks 1..K in increasing track-id order. Noise keeps 0.
    if noise_track_id is None:
        noise = np.zeros(track_id.shape, dtype=bool)
    else:
        noise = track_id == noise_track_id
    particle_id = np.zeros(track_id.shape, dtype=np.int64)
    _, dense = np.unique(track_id[~noise], return_inverse=True)
    particle_id[~noise] = dense.reshape(-1) + 1
    return particle_id


def _validate(data: Data, path: Path, index: int, geometry: TPCGeometry,
              out_of_volume: str) -> Data:
    return validate_event(data, str(path), index,
                          DetectorVolume.from_geometry(geometry),
                          out_of_volume=out_of_volume,
                          num_layers=geometry.num_layers)


def _make_event(arrays: dict[str, np.ndarray], start: int, stop: int,
                geometry: TPCGeometry, noise_track_id: int | None) -> Data:
    # Every tensor owns a copy, so changing an event leaves the cache intact.
    points = arrays['points'][start:stop]
    pos = np.array(points[:, 1:4], dtype=np.float32)
    radius = np.hypot(pos[:, 0].astype(np.float64), pos[:, 1])
    data = Data(
        pos=torch.from_numpy(pos),
        energy=torch.from_numpy(np.array(points[:, 0], dtype=np.float32)),
        layer=torch.from_numpy(layer_from_radius(radius, geometry)),
        num_nodes=stop - start,
    )
    if 'track_ids' in arrays:
        track_id = np.array(arrays['track_ids'][start:stop], dtype=np.int64)
        data.track_id = torch.from_numpy(track_id)
        data.particle_id = torch.from_numpy(
            _particle_ids(track_id, noise_track_id))
    if 'pid_labels' in arrays:
        data.pid_label = torch.from_numpy(
            np.array(arrays['pid_labels'][start:stop], dtype=np.int64))
    if 'noise_tags' in arrays:
        data.noise_label = torch.from_numpy(
            np.array(arrays['noise_tags'][start:stop], dtype=bool))
    return data


def read_tpcpp_file(
    spacepoints: str | Path,
    track_ids: str | Path | None = None,
    pid_labels: str | Path | None = None,
    noise_tags: str | Path | None = None,
    layout: TPCppLayout | None = None,
    geometry: TPCGeometry | None = None,
    noise_track_id: int | None = 0,
    out_of_volume: str = 'raise',
) -> list[Data]:
    r"""Read every event of one TPCpp-10M shard into the event schema.

    Each event gets ``pos`` (x, y, z in cm), ``energy`` (E) and ``layer``
    (the pad row of :meth:`layer_from_radius`). A given ``track_ids`` archive
    adds ``track_id``, the stored truth track, and ``particle_id``, which
    numbers the event's tracks 1, 2, ... in increasing ``track_id`` order
    and gives 0 to hits whose ``track_id`` equals :obj:`noise_track_id`.
    ``pid_labels`` adds ``pid_label`` and ``noise_tags`` adds
    ``noise_label``. An attribute whose archive is not given is absent;
    the files have no ``particle_pt`` or ``particle_eta``.

    Args:
        spacepoints (str or Path): The spacepoint archive.
        track_ids (str or Path, optional): Its truth-track archive.
            (default: :obj:`None`)
        pid_labels (str or Path, optional): Its PID-class archive.
            (default: :obj:`None`)
        noise_tags (str or Path, optional): Its noise-tag archive.
            (default: :obj:`None`)
        layout (TPCppLayout, optional): Key names; the defaults when
            :obj:`None`. (default: :obj:`None`)
        geometry (TPCGeometry, optional): The TPC used to find each hit's
            pad row; the sPHENIX-like default when :obj:`None`.
            (default: :obj:`None`)
        noise_track_id (int, optional): Track id of hits without a truth
            particle, or :obj:`None` if every track id is a particle.
            (default: :obj:`0`)
        out_of_volume (str, optional): ``"raise"`` rejects a hit more than
            1 cm outside the TPC, ``"drop"`` removes it and logs the count
            (see :func:`~fm4npp_geo.data.validate.validate_event`).
            (default: :obj:`"raise"`)

    Returns:
        list[Data]: The events in file order.

    Raises:
        ValueError: If an archive cannot be read or lacks a key. Also if
            the event sizes do not add up to the number of rows, if a label
            array has another length, or if a value is not finite or out of
            range, or if a hit lies outside the TPC. The message names the
            file and the key.
    """
    # NOTE: The published files document no track id for hits without a
    # truth particle. Geant4 numbers tracks from 1 and write_tpcpp writes 0
    # for noise, so 0 is the default.
    layout = layout or TPCppLayout()
    geometry = geometry or TPCGeometry()
    given = {'track_ids': track_ids, 'pid_labels': pid_labels,
             'noise_tags': noise_tags}
    labels = {role: Path(path) for role, path in given.items()
              if path is not None}

    shard = _index_shard(Path(spacepoints), labels, layout)
    arrays = _load_shard(shard, layout)
    return [
        _validate(_make_event(arrays, int(start), int(start + size), geometry,
                              noise_track_id), shard.spacepoints, index,
                  geometry, out_of_volume)
        for index, (start, size) in enumerate(zip(shard.starts, shard.sizes))
    ]
