"""PyG dataset of simulated TPC events, generated in parallel and stored in
chunk files that are loaded on demand."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import os.path as osp
import pickle
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import torch
from torch_geometric.data import Data, Dataset
from torch_geometric.data.dataset import files_exist
from torch_geometric.data.separate import separate
from tqdm.auto import tqdm

from fm4npp_geo.data.chunks import (
    is_complete_chunk,
    load_chunk,
    remove_stale_temporaries,
    save_chunk,
)
from fm4npp_geo.data.geometry import TPCGeometry
from fm4npp_geo.data.simulation import SimulationConfig, simulate_events
from fm4npp_geo.data.validate import DetectorVolume, validate_event

logger = logging.getLogger(__name__)

#: Version of the simulation output. Bump it when the simulation changes its
#: events for the same settings, so that older chunk files are not reloaded.
SIMULATION_VERSION = 2

#: Chunk files held in memory by one dataset object. Reading the events in
#: index order touches one chunk at a time.
CHUNK_CACHE_SIZE = 2

def _describe(transform: Callable | None) -> str:
    # Same as PyG's own check: the repr without memory addresses.
    return re.sub(r' at 0x[0-9a-fA-F]+', '', repr(transform))


def settings_hash(config: SimulationConfig, geometry: TPCGeometry,
                  pre_transform: Callable | None = None, seed: int = 0) -> str:
    r"""Return a short hash of everything that shapes the stored events: the
    simulation version, run seed, config, geometry and pre-transform."""
    payload = json.dumps(
        {
            'version': SIMULATION_VERSION,
            'seed': seed,
            'config': dataclasses.asdict(config),
            'geometry': dataclasses.asdict(geometry),
            'pre_transform': _describe(pre_transform),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:10]


def _as_config(
        config: SimulationConfig | Mapping[str, Any] | None
) -> SimulationConfig:
    if config is None:
        return SimulationConfig()
    if isinstance(config, SimulationConfig):
        return config
    if isinstance(config, Mapping):
        return SimulationConfig.from_dict(dict(config))
    raise ValueError(f"Expected a SimulationConfig or a mapping of its "
                     f"fields, got {type(config).__name__}")


def _simulate_chunk(task: tuple) -> int:
    seed, first, count, config, geometry, pre_transform, path = task
    events = simulate_events(count, seed, config, geometry, first_event=first)
    if pre_transform is not None:
        events = [pre_transform(event) for event in events]
    save_chunk(events, path)
    return count


def _init_worker() -> None:
    # Each worker process runs on one core.
    torch.set_num_threads(1)


class TPCSimDataset(Dataset):
    r"""Simulated sPHENIX-like TPC events from PYTHIA 8 p+p collisions.

    Events are simulated by
    :func:`~fm4npp_geo.data.simulation.simulate_events` in chunks of
    :obj:`chunk_size` and saved as
    :obj:`root`/processed/<hash>/chunk_<first>_<last>.pt, where <hash> is a
    short hash of the seed, config, geometry and pre-transform and
    <first>, <last> are the indices of the first and last event of the chunk.
    Event :obj:`i` depends only on the seed and :obj:`i`, so a chunk can be
    simulated by any worker and in any order.

    Each chunk is written to a temporary file and renamed, so an interrupted
    run leaves only complete chunks. Constructing the dataset again
    simulates only the chunks that are missing or truncated. Events are read
    from their chunk on access and at most :data:`CHUNK_CACHE_SIZE` chunks
    are held in memory, so the dataset can be far larger than memory.

    .. note::
        Random access reads a whole chunk for each event of a chunk that is
        not cached. Shuffle across chunks with a sampler that keeps the
        events of a chunk together, or use a smaller :obj:`chunk_size`.

    Args:
        root (str): Root directory of the dataset.
        num_events (int): Number of events.
        seed (int, optional): Run seed. (default: :obj:`0`)
        config (SimulationConfig or Mapping, optional): Simulation settings,
            or a mapping of overrides of them (see
            :meth:`SimulationConfig.from_dict`); the defaults when
            :obj:`None`. (default: :obj:`None`)
        transform (callable, optional): Transform applied to an event on
            every access. (default: :obj:`None`)
        pre_transform (callable, optional): Transform applied once before
            saving. It must be picklable to run in worker processes.
            (default: :obj:`None`)
        geometry (TPCGeometry, optional): The TPC; the sPHENIX-like default
            when :obj:`None`. (default: :obj:`None`)
        force_reload (bool, optional): Simulate every chunk again even when
            its file exists. (default: :obj:`False`)
        num_workers (int, optional): Worker processes that simulate chunks;
            0 or 1 simulates in this process. (default: :obj:`1`)
        chunk_size (int, optional): Events per chunk file. A chunk file
            names its event range, so datasets with different chunk sizes
            never read each other's files. Each chunk starts its own event
            generator, and PYTHIA takes about 0.3 s to start (measured on
            one core of an x86-64 CPU), so chunks of much fewer than 100
            events spend a noticeable share of their time starting it.
            (default: :obj:`1000`)
        progress (bool, optional): Show a progress bar while simulating.
            (default: :obj:`False`)
    """

    def __init__(
        self,
        root: str,
        num_events: int,
        seed: int = 0,
        config: SimulationConfig | Mapping[str, Any] | None = None,
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        geometry: TPCGeometry | None = None,
        force_reload: bool = False,
        num_workers: int = 1,
        chunk_size: int = 1000,
        progress: bool = False,
    ) -> None:
        if num_events < 1:
            raise ValueError(f"Expected a positive num_events, got "
                             f"{num_events}")
        if seed < 0:
            raise ValueError(f"Expected a non-negative seed, got {seed}")
        if num_workers < 0:
            raise ValueError(f"Expected a non-negative num_workers, got "
                             f"{num_workers}")
        if chunk_size < 1:
            raise ValueError(f"Expected a positive chunk_size, got "
                             f"{chunk_size}")
        self.num_events = num_events
        self.seed = seed
        self.config = _as_config(config)
        self.geometry = geometry or TPCGeometry()
        self.num_workers = num_workers
        self.chunk_size = chunk_size
        self.progress = progress
        self.settings_hash = settings_hash(self.config, self.geometry,
                                           pre_transform, seed)
        self._cache: OrderedDict[int, tuple[Data, dict]] = OrderedDict()
        self._processed = False
        super().__init__(root, transform, pre_transform,
                         force_reload=force_reload, log=False)

        # PyG calls process() only when a chunk file is missing, so chunks
        # that exist but are truncated are found here.
        if not self._processed:
            self._simulate_chunks(self._incomplete_chunks())

    @property
    def num_chunks(self) -> int:
        r"""Number of chunk files."""
        return -(-self.num_events // self.chunk_size)

    def chunk_range(self, chunk: int) -> range:
        r"""Return the event indices stored in chunk :obj:`chunk`."""
        first = chunk * self.chunk_size
        return range(first, min(first + self.chunk_size, self.num_events))

    @property
    def processed_dir(self) -> str:
        # One folder per settings hash, which covers the pre-transform.
        return osp.join(self.root, 'processed', self.settings_hash)

    @property
    def raw_file_names(self) -> list[str]:
        return []

    @property
    def processed_file_names(self) -> list[str]:
        names = []
        for chunk in range(self.num_chunks):
            events = self.chunk_range(chunk)
            names.append(f'chunk_{events[0]}_{events[-1]}.pt')
        return names

    def _process(self) -> None:
        # PyG's Dataset._process compares the records pre_transform.pt and
        # pre_filter.pt loaded with torch.load(weights_only=False), which
        # runs code from a crafted file in a shared dataset folder. The
        # folder name already hashes the pre-transform, so those records are
        # neither read nor written here.
        if not self.force_reload and files_exist(self.processed_paths):
            return
        os.makedirs(self.processed_dir, exist_ok=True)
        self.process()

    def process(self) -> None:
        self._processed = True
        if self.force_reload:
            self._simulate_chunks(list(range(self.num_chunks)))
        else:
            self._simulate_chunks(self._incomplete_chunks())

    def _incomplete_chunks(self) -> list[int]:
        incomplete = []
        for chunk, path in enumerate(self.processed_paths):
            if is_complete_chunk(path):
                continue
            if osp.exists(path):
                logger.warning("Chunk file %s is truncated; simulating it "
                               "again", path)
            incomplete.append(chunk)
        return incomplete

    def _simulate_chunks(self, chunks: list[int]) -> None:
        if not chunks:
            return
        os.makedirs(self.processed_dir, exist_ok=True)
        remove_stale_temporaries(self.processed_dir)
        tasks = []
        for chunk in chunks:
            events = self.chunk_range(chunk)
            tasks.append((self.seed, events[0], len(events), self.config,
                          self.geometry, self.pre_transform,
                          self.processed_paths[chunk]))
        num_events = sum(task[2] for task in tasks)
        num_workers = min(self.num_workers, len(tasks))
        if num_workers > 1 and not self._picklable(self.pre_transform):
            logger.warning("The pre_transform %r cannot be pickled for "
                           "worker processes; simulating in this process",
                           self.pre_transform)
            num_workers = 1
        logger.info("Simulating %d events in %d chunks with %d workers "
                    "under %s", num_events, len(tasks), max(1, num_workers),
                    self.processed_dir)

        bar = tqdm(total=num_events, unit='event', desc='simulate',
                   disable=not self.progress)
        with bar:
            if num_workers <= 1:
                for task in tasks:
                    bar.update(_simulate_chunk(task))
            else:
                self._simulate_in_workers(tasks, num_workers, bar)
        self._cache.clear()

    @staticmethod
    def _simulate_in_workers(tasks: list[tuple], num_workers: int,
                             bar: tqdm) -> None:
        # A process pool executor, unlike multiprocessing.Pool, raises
        # BrokenProcessPool when a worker dies instead of waiting forever.
        # Workers are spawned, not forked, because a child forked after the
        # parent started its OpenMP thread pool (torch does) can deadlock.
        context = multiprocessing.get_context('spawn')
        executor = ProcessPoolExecutor(num_workers, mp_context=context,
                                       initializer=_init_worker)
        try:
            futures = [executor.submit(_simulate_chunk, task) for task in tasks]
            for future in as_completed(futures):
                bar.update(future.result())
        finally:
            # On an error, chunks not yet started are dropped, and the
            # workers finish their current chunk, leaving only whole files.
            executor.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _picklable(value: Any) -> bool:
        try:
            pickle.dumps(value)
        except (pickle.PicklingError, AttributeError, TypeError):
            return False
        return True

    def _load_chunk(self, chunk: int) -> tuple[Data, dict]:
        if chunk in self._cache:
            self._cache.move_to_end(chunk)
            return self._cache[chunk]

        path = self.processed_paths[chunk]
        data, slices = load_chunk(path, len(self.chunk_range(chunk)))
        self._cache[chunk] = (data, slices)
        while len(self._cache) > CHUNK_CACHE_SIZE:
            self._cache.popitem(last=False)
        return self._cache[chunk]

    def len(self) -> int:
        return self.num_events

    def get(self, idx: int) -> Data:
        chunk, local = divmod(idx, self.chunk_size)
        data, slices = self._load_chunk(chunk)
        event = separate(cls=Data, batch=data, idx=local, slice_dict=slices,
                         decrement=False)
        return validate_event(event, self.processed_paths[chunk], idx,
                              DetectorVolume.from_geometry(self.geometry),
                              num_layers=self.geometry.num_layers)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({len(self)}, seed={self.seed}, '
                f'chunk_size={self.chunk_size}, '
                f'settings={self.settings_hash})')
