"""Reader for events in the TrackML challenge CSV format."""

from __future__ import annotations

import csv
import gzip
import zlib
from pathlib import Path
from typing import IO

import numpy as np
import torch
from torch_geometric.data import Data

from fm4npp_geo.data.particles import pid_labels, pseudorapidity
from fm4npp_geo.data.validate import DetectorVolume, validate_event

#: TrackML lengths are in mm; the library uses cm.
_MM_TO_CM = 0.1

#: Every (volume_id, layer_id) pair of the TrackML detector (its
#: detectors.csv), sorted. The position of a pair is its ``layer`` index, so
#: the index means the same layer in every event.
TRACKML_LAYERS: tuple[tuple[int, int], ...] = (
    *((7, layer) for layer in range(2, 15, 2)),
    *((8, layer) for layer in range(2, 9, 2)),
    *((9, layer) for layer in range(2, 15, 2)),
    *((12, layer) for layer in range(2, 13, 2)),
    *((13, layer) for layer in range(2, 9, 2)),
    *((14, layer) for layer in range(2, 13, 2)),
    *((16, layer) for layer in range(2, 13, 2)),
    *((17, layer) for layer in range(2, 5, 2)),
    *((18, layer) for layer in range(2, 13, 2)),
)

#: A cylinder around the TrackML detector in cm: the barrel strips reach
#: r = 102.5 cm and the end-cap disks |z| = 295.5 cm.
TRACKML_VOLUME = DetectorVolume(r_min=0.0, r_max=103.0, z_max=300.0)

_COLUMNS = {
    'hits': ('hit_id', 'x', 'y', 'z', 'volume_id', 'layer_id'),
    'cells': ('hit_id', 'value'),
    'particles': ('particle_id', 'particle_type', 'px', 'py', 'pz'),
    'truth': ('hit_id', 'particle_id', 'weight'),
}


def _find_file(prefix: str, kind: str) -> Path:
    for suffix in ('.csv.gz', '.csv'):
        path = Path(f'{prefix}-{kind}{suffix}')
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"TrackML {kind} file not found: expected '{prefix}-{kind}.csv.gz' "
        f"or '{prefix}-{kind}.csv'. Pass the path before '-hits.csv.gz' as "
        f"prefix and keep the four files of the event (hits, cells, "
        f"particles, truth) together.")


def _read_columns(path: Path, columns: tuple[str, ...]) -> dict[str, list]:
    opener = gzip.open if path.suffix == '.gz' else open
    try:
        with opener(path, 'rt', newline='') as file:
            return _parse_rows(file, path, columns)
    except (EOFError, gzip.BadGzipFile, zlib.error, csv.Error,
            UnicodeDecodeError) as error:
        raise ValueError(f"Failed to read TrackML file '{path}': {error}. "
                         f"The file is truncated or corrupt; copy it "
                         f"again.") from error


def _parse_rows(file: IO[str], path: Path,
                columns: tuple[str, ...]) -> dict[str, list]:
    reader = csv.reader(file)
    header = next(reader, None)
    if header is None:
        raise ValueError(f"TrackML file '{path}' is empty; expected a "
                         f"header with columns {list(columns)}")
    header = [name.strip() for name in header]
    missing = [name for name in columns if name not in header]
    if missing:
        raise ValueError(
            f"TrackML file '{path}' has no column(s) {missing}; found "
            f"{header}, expected at least {list(columns)}.")
    indices = [header.index(name) for name in columns]

    rows = []
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            # A cut-off last line is the usual cause, so name what it lacks.
            lacking = [name for name, i in zip(columns, indices)
                       if i >= len(row)]
            detail = f" and lacks column(s) {lacking}" if lacking else ""
            raise ValueError(
                f"TrackML file '{path}' line {reader.line_num} has "
                f"{len(row)} fields{detail}, expected {len(header)} as in "
                f"the header. The file may be truncated.")
        rows.append([row[i] for i in indices])
    return {name: [row[j] for row in rows] for j, name in enumerate(columns)}


def _column(table: dict[str, list], name: str, dtype: type,
            path: Path) -> np.ndarray:
    try:
        values = np.asarray(table[name], dtype=dtype)
    except ValueError as error:
        raise ValueError(f"Failed to parse column '{name}' of TrackML file "
                         f"'{path}' as {np.dtype(dtype).name}: {error}"
                         ) from error
    if np.issubdtype(values.dtype, np.floating):
        finite = np.isfinite(values)
        if not finite.all():
            row = int(np.flatnonzero(~finite)[0])
            raise ValueError(
                f"Column '{name}' of TrackML file '{path}' contains "
                f"{values[row]} in data row {row + 1}; expected finite "
                f"values")
    return values


def _check_unique(values: np.ndarray, name: str, path: Path) -> None:
    unique, counts = np.unique(values, return_counts=True)
    if unique.shape[0] != values.shape[0]:
        repeated = unique[counts > 1]
        raise ValueError(f"Column '{name}' of TrackML file '{path}' repeats "
                         f"{repeated.shape[0]} value(s), for example "
                         f"{repeated[:3].tolist()}; expected each once")


def _lookup(keys: np.ndarray, table_keys: np.ndarray, what: str,
            column: str, path: Path) -> np.ndarray:
    # Index in table_keys of every key. All keys must be present.
    order = np.argsort(table_keys, kind='stable')
    sorted_keys = table_keys[order]
    position = np.searchsorted(sorted_keys, keys)
    found = position < sorted_keys.shape[0]
    found[found] = sorted_keys[position[found]] == keys[found]
    if not np.all(found):
        missing = keys[~found]
        raise ValueError(
            f"{missing.shape[0]} {what} are missing from column '{column}' "
            f"of '{path}', for example {missing[:3].tolist()}; the files of "
            f"one event must agree")
    return order[position]


def read_trackml_event(prefix: str | Path,
                       noise_pt_threshold: float = 0.06,
                       out_of_volume: str = 'raise') -> Data:
    r"""Read one TrackML event into the library's event schema.

    The event consists of ``{prefix}-hits``, ``-cells``, ``-particles`` and
    ``-truth`` files, each ``.csv.gz`` or ``.csv``. Positions are converted
    from mm to cm. ``energy`` is the summed charge ``value`` of the hit's
    cells (0 for a hit without cells). ``layer`` indexes the
    (volume_id, layer_id) pair in :data:`TRACKML_LAYERS`. Truth particle ids
    stay ``int64``, and 0 means noise.

    Args:
        prefix (str or Path): Path of the event before ``-hits.csv.gz``, for
            example ``.../event000000001``.
        noise_pt_threshold (float, optional): Hits of particles below this
            transverse momentum in GeV get ``noise_label = True``, as noise
            hits do. (default: :obj:`0.06`)
        out_of_volume (str, optional): ``"raise"`` rejects a hit more than
            1 cm outside :data:`TRACKML_VOLUME`, ``"drop"`` removes it and
            logs the count. (default: :obj:`"raise"`)

    Returns:
        Data: The event with ``pos`` [N, 3], ``energy`` [N], ``layer`` [N],
        ``particle_id`` [N], ``pid_label`` [N], ``noise_label`` [N],
        ``particle_pt`` [N], ``particle_eta`` [N], ``weight`` [N] (the
        official per-hit score weight) and ``hit_id`` [N], in the order of the
        hits file.

    Raises:
        FileNotFoundError: If one of the four files is missing.
        ValueError: If a file is truncated or corrupt, lacks a column, has a
            row of the wrong length, a value that cannot be parsed or is not
            finite, or a repeated id. Also if the truth and hits files list
            different hits, if a cell or truth row refers to an unknown hit
            or particle, if a hit is on an unknown layer, or if a hit lies
            outside :data:`TRACKML_VOLUME` or its particle has no transverse
            momentum. The message names the file and the column.
    """
    prefix = str(prefix)
    paths = {kind: _find_file(prefix, kind) for kind in _COLUMNS}
    tables = {
        kind: _read_columns(paths[kind], columns)
        for kind, columns in _COLUMNS.items()
    }
    hits, cells = tables['hits'], tables['cells']
    particles, truth = tables['particles'], tables['truth']

    hit_id = _column(hits, 'hit_id', np.int64, paths['hits'])
    _check_unique(hit_id, 'hit_id', paths['hits'])
    xyz = np.stack([
        _column(hits, name, np.float64, paths['hits'])
        for name in ('x', 'y', 'z')
    ], axis=1)
    volume = _column(hits, 'volume_id', np.int64, paths['hits'])
    layer_id = _column(hits, 'layer_id', np.int64, paths['hits'])

    # 1. Truth, matched to the hits by hit_id.
    truth_hit = _column(truth, 'hit_id', np.int64, paths['truth'])
    _check_unique(truth_hit, 'hit_id', paths['truth'])
    truth_index = _lookup(hit_id, truth_hit, 'hit ids', 'hit_id',
                          paths['truth'])
    if truth_hit.shape[0] != hit_id.shape[0]:
        extra = np.setdiff1d(truth_hit, hit_id)
        raise ValueError(
            f"Column 'hit_id' of TrackML file '{paths['truth']}' contains "
            f"{extra.shape[0]} hit id(s) that are not in '{paths['hits']}', "
            f"for example {extra[:3].tolist()}; the files of one event must "
            f"agree")
    particle_id = _column(truth, 'particle_id', np.int64,
                          paths['truth'])[truth_index]
    weight = _column(truth, 'weight', np.float64, paths['truth'])[truth_index]

    # 2. Summed cell charge per hit.
    cell_hit = _column(cells, 'hit_id', np.int64, paths['cells'])
    cell_value = _column(cells, 'value', np.float64, paths['cells'])
    cell_index = _lookup(cell_hit, hit_id, 'hit ids of cells', 'hit_id',
                         paths['hits'])
    energy = np.bincount(cell_index, weights=cell_value,
                         minlength=hit_id.shape[0])

    # 3. Layer index of the (volume_id, layer_id) pair.
    known_codes = np.array([v * 100 + lay for v, lay in TRACKML_LAYERS])
    layer_code = volume * 100 + layer_id
    layer = np.minimum(np.searchsorted(known_codes, layer_code),
                       known_codes.shape[0] - 1)
    unknown = known_codes[layer] != layer_code
    if np.any(unknown):
        pairs = sorted(set(zip(volume[unknown].tolist(),
                               layer_id[unknown].tolist())))
        raise ValueError(f"Unknown (volume_id, layer_id) pairs {pairs[:5]} "
                         f"in '{paths['hits']}'; expected one of the "
                         f"{len(TRACKML_LAYERS)} TrackML detector layers")

    # 4. Particle kinematics and type; noise keeps zeros.
    table_id = _column(particles, 'particle_id', np.int64,
                       paths['particles'])
    _check_unique(table_id, 'particle_id', paths['particles'])
    particle_type = _column(particles, 'particle_type', np.int64,
                            paths['particles'])
    momentum = np.stack([
        _column(particles, name, np.float64, paths['particles'])
        for name in ('px', 'py', 'pz')
    ], axis=1)
    is_noise = particle_id == 0
    row = _lookup(particle_id[~is_noise], table_id,
                  'particle ids of truth hits', 'particle_id',
                  paths['particles'])
    hit_momentum = np.zeros((hit_id.shape[0], 3))
    hit_momentum[~is_noise] = momentum[row]
    pid = np.zeros(hit_id.shape[0], dtype=np.int64)
    pid[~is_noise] = pid_labels(particle_type[row])
    px, py, pz = hit_momentum.T
    pt = np.hypot(px, py)
    eta = np.where(is_noise, 0.0, pseudorapidity(px, py, pz))
    noise_label = is_noise | (pt < noise_pt_threshold)

    data = Data(
        pos=torch.from_numpy(xyz * _MM_TO_CM).float(),
        energy=torch.from_numpy(energy).float(),
        layer=torch.from_numpy(layer).long(),
        particle_id=torch.from_numpy(particle_id),
        pid_label=torch.from_numpy(pid),
        noise_label=torch.from_numpy(noise_label),
        particle_pt=torch.from_numpy(pt).float(),
        particle_eta=torch.from_numpy(eta).float(),
        weight=torch.from_numpy(weight).float(),
        hit_id=torch.from_numpy(hit_id),
        num_nodes=int(hit_id.shape[0]),
    )
    return validate_event(data, str(paths['hits']), volume=TRACKML_VOLUME,
                          out_of_volume=out_of_volume,
                          num_layers=len(TRACKML_LAYERS))
