"""Writer of events into the TrackML challenge CSV format."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from torch import Tensor
from torch_geometric.data import Data

from fm4npp_geo.data.particles import PARTICLE_COLUMNS, PID_CLASSES
from fm4npp_geo.data.trackml import TRACKML_LAYERS
from fm4npp_geo.fileio import atomic_open

#: The library uses cm, TrackML files mm.
_CM_TO_MM = 10.0

_REQUIRED = ('pos', 'energy', 'layer', 'particle_id', 'pid_label',
             'particle_pt', 'particle_eta')

_HEADERS = {
    'hits': ('hit_id', 'x', 'y', 'z', 'volume_id', 'layer_id', 'module_id'),
    'cells': ('hit_id', 'ch0', 'ch1', 'value'),
    'particles': ('particle_id', 'particle_type', 'vx', 'vy', 'vz', 'px',
                  'py', 'pz', 'q', 'nhits'),
    'truth': ('hit_id', 'particle_id', 'tx', 'ty', 'tz', 'tpx', 'tpy', 'tpz',
              'weight'),
}

#: A PDG code of each PID class, written as ``particle_type``. The class
#: "other" gets 0, which is not a PDG code.
_CLASS_TO_PDG = {label: code for code, label in PID_CLASSES.items()}


def write_csv(path: Path, header: Sequence[str],
              rows: Iterable[Sequence]) -> None:
    r"""Write a CSV file atomically, gzip-compressed when :obj:`path` ends in
    ``.gz``. Floats are written in their shortest exact form."""
    with atomic_open(path, 'wb') as raw:
        if path.name.endswith('.gz'):
            # mtime=0 keeps the output identical for identical input.
            binary = gzip.GzipFile(fileobj=raw, mode='wb', mtime=0)
        else:
            binary = raw
        text = io.TextIOWrapper(binary, encoding='utf-8', newline='')
        writer = csv.writer(text, lineterminator='\n')
        writer.writerow(header)
        writer.writerows(rows)
        text.flush()
        text.detach()
        if binary is not raw:
            binary.close()


def _numpy(data: Data, name: str) -> np.ndarray:
    value = data[name]
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _per_particle(particle_id: np.ndarray, values: np.ndarray,
                  name: str) -> np.ndarray:
    # The value of each particle in sorted particle-id order, which must be
    # the same on all of its hits.
    _, first, inverse = np.unique(particle_id, return_index=True,
                                  return_inverse=True)
    value = values[first]
    differs = values != value[inverse.reshape(-1)]
    if np.any(differs):
        bad = int(particle_id[np.flatnonzero(differs)[0]])
        raise ValueError(f"The hits of particle {bad} disagree on "
                         f"'{name}'; a particle has one value for all of "
                         f"its hits")
    return value


_COLUMN = {name: index for index, name in enumerate(PARTICLE_COLUMNS)}


def _particle_table(data: Data, particles: np.ndarray) -> np.ndarray | None:
    # The simulation's per-event particle table, whose row i is particle
    # i + 1, or None when the event has none.
    if 'particles' not in data:
        return None
    table = _numpy(data, 'particles').astype(np.float64)
    if table.ndim != 2 or table.shape[1] != len(PARTICLE_COLUMNS):
        raise ValueError(f"Expected 'particles' of shape [P, "
                         f"{len(PARTICLE_COLUMNS)}] with the columns "
                         f"{list(PARTICLE_COLUMNS)}, got {list(table.shape)}")
    if particles.size and particles.max() > table.shape[0]:
        raise ValueError(f"'particle_id' contains {particles.max()}, but "
                         f"'particles' has only {table.shape[0]} rows")
    return table


def write_trackml_event(data: Data, prefix: str | Path,
                        compress: bool = False) -> list[Path]:
    r"""Write an event as the four TrackML files of :obj:`prefix`.

    The hits file gets ``pos`` in mm and the (volume_id, layer_id) pair of
    ``layer`` in :data:`~fm4npp_geo.data.trackml.TRACKML_LAYERS`, with
    ``module_id`` 0. Every hit gets one cell whose ``value`` is its
    ``energy``. The truth file maps each hit to ``particle_id`` (0 for
    noise) with the hit position as ``tx, ty, tz`` and ``weight`` from
    ``data.weight`` (0 when absent). Hit ids are ``data.hit_id`` when
    present, else 1 to N.

    The particles file takes PDG code, vertex, momentum and charge from the
    event's particle table ``data.particles`` (the columns of
    :data:`~fm4npp_geo.data.particles.PARTICLE_COLUMNS`, as the simulation
    writes it) when there is one. Otherwise the per-hit attributes fix a
    particle's pT, eta and PID class only, and the file contains stand-ins
    for the rest: ``px = pT``, ``py = 0``, ``pz = pT sinh(eta)`` (also
    written as ``tpx, tpy, tpz``), a vertex at the origin, ``q = 0``, and as
    ``particle_type`` a PDG code of the class (211, 321, 2212, 11, or 0 for
    other). ``noise_label`` is not written, because the reader derives it
    from ``particle_id`` and pT.

    Args:
        data (Data): The event, with ``pos``, ``energy``, ``layer``,
            ``particle_id``, ``pid_label``, ``particle_pt`` and
            ``particle_eta``.
        prefix (str or Path): Path of the event before ``-hits.csv``.
        compress (bool, optional): Write ``.csv.gz`` files instead of
            ``.csv``. (default: :obj:`False`)

    Returns:
        list[Path]: The hits, cells, particles and truth files.

    Raises:
        ValueError: If an attribute is missing, has the wrong shape, is not
            finite, or a layer has no TrackML counterpart. Also if hit ids
            repeat or the hits of a particle disagree on pT, eta or class.
        FileExistsError: If a file of the event exists already, with either
            suffix. The reader prefers ``.csv.gz``, so an old file could
            otherwise shadow a new one.

    Each file is written to a temporary name and renamed into place. A call
    interrupted between two files leaves the earlier ones, and the reader
    then reports the others as missing.
    """
    prefix = str(prefix)
    suffix = '.csv.gz' if compress else '.csv'
    paths = {kind: Path(f'{prefix}-{kind}{suffix}') for kind in _HEADERS}
    for kind in paths:
        for existing in (Path(f'{prefix}-{kind}.csv'),
                         Path(f'{prefix}-{kind}.csv.gz')):
            if existing.exists():
                raise FileExistsError(f"TrackML file '{existing}' already "
                                      f"exists; write the event elsewhere")

    # 1. Per-hit arrays, checked before any file is written.
    missing = [name for name in _REQUIRED if name not in data]
    if missing:
        raise ValueError(f"The event has no {missing}; expected "
                         f"{list(_REQUIRED)}")
    pos = _numpy(data, 'pos').astype(np.float64)
    num_hits = pos.shape[0]
    if pos.shape != (num_hits, 3):
        raise ValueError(f"Expected 'pos' of shape [N, 3], got "
                         f"{list(pos.shape)}")
    arrays = {name: _numpy(data, name) for name in _REQUIRED[1:]}
    for name in ('weight', 'hit_id'):
        if name in data:
            arrays[name] = _numpy(data, name)
    for name, values in arrays.items():
        if values.shape != (num_hits,):
            raise ValueError(f"Expected '{name}' of shape [{num_hits}], got "
                             f"{list(values.shape)}")
    for name in ('energy', 'particle_pt', 'particle_eta', 'weight'):
        if name in arrays and not np.isfinite(arrays[name]).all():
            raise ValueError(f"'{name}' contains a non-finite value")
    if not np.isfinite(pos).all():
        raise ValueError("'pos' contains a non-finite value")

    layer = arrays['layer'].astype(np.int64)
    if np.any((layer < 0) | (layer >= len(TRACKML_LAYERS))):
        raise ValueError(f"'layer' must be in [0, {len(TRACKML_LAYERS)}) to "
                         f"map to a TrackML layer, got {layer.min()} to "
                         f"{layer.max()}")
    hit_id = arrays.get('hit_id', np.arange(1, num_hits + 1)).astype(np.int64)
    if np.unique(hit_id).shape[0] != num_hits:
        raise ValueError("'hit_id' repeats a value; expected unique hit ids")
    weight = arrays.get('weight', np.zeros(num_hits))

    # 2. One row per particle. Noise (particle 0) has none.
    particle_id = arrays['particle_id'].astype(np.int64)
    if np.any(particle_id < 0):
        raise ValueError(f"'particle_id' contains {particle_id.min()}; "
                         f"TrackML particle ids are >= 0, with 0 for noise")
    signal = particle_id != 0
    particles, nhits = np.unique(particle_id[signal], return_counts=True)
    per_particle = {
        name: _per_particle(particle_id[signal], arrays[name][signal], name)
        for name in ('pid_label', 'particle_pt', 'particle_eta')
    }
    unknown = set(per_particle['pid_label'].tolist()) - set(_CLASS_TO_PDG)
    unknown -= {0}
    if unknown:
        raise ValueError(f"'pid_label' contains unknown classes "
                         f"{sorted(unknown)}; expected 0 to 4")
    pt = per_particle['particle_pt'].astype(np.float64)
    pz = pt * np.sinh(per_particle['particle_eta'].astype(np.float64))
    table = _particle_table(data, particles)
    momentum = {0: (0.0, 0.0, 0.0)}
    particle_rows = []
    for i, particle in enumerate(particles.tolist()):
        if table is None:
            pdg = _CLASS_TO_PDG.get(int(per_particle['pid_label'][i]), 0)
            vertex, charge = (0.0, 0.0, 0.0), 0
            momentum[particle] = (float(pt[i]), 0.0, float(pz[i]))
        else:
            row = table[particle - 1]
            pdg = int(row[_COLUMN['pdg']])
            vertex = tuple(float(row[_COLUMN[name]]) * _CM_TO_MM
                           for name in ('vx', 'vy', 'vz'))
            charge = int(row[_COLUMN['charge']])
            momentum[particle] = tuple(float(row[_COLUMN[name]])
                                       for name in ('px', 'py', 'pz'))
        particle_rows.append((particle, pdg, *vertex, *momentum[particle],
                              charge, int(nhits[i])))

    # 3. Per-hit rows.
    hit_rows, cell_rows, truth_rows = [], [], []
    pos_mm = (pos * _CM_TO_MM).tolist()
    energy = arrays['energy'].astype(np.float64).tolist()
    weight = weight.astype(np.float64).tolist()
    for i, hit in enumerate(hit_id.tolist()):
        volume_id, layer_id = TRACKML_LAYERS[int(layer[i])]
        particle = int(particle_id[i])
        hit_rows.append((hit, *pos_mm[i], volume_id, layer_id, 0))
        cell_rows.append((hit, 0, 0, energy[i]))
        truth_rows.append((hit, particle, *pos_mm[i], *momentum[particle],
                           weight[i]))

    # 4. The four files.
    write_csv(paths['hits'], _HEADERS['hits'], hit_rows)
    write_csv(paths['cells'], _HEADERS['cells'], cell_rows)
    write_csv(paths['particles'], _HEADERS['particles'], particle_rows)
    write_csv(paths['truth'], _HEADERS['truth'], truth_rows)
    return list(paths.values())
