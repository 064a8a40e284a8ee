"""In-memory PyG dataset of simulated TPC events, cached on disk."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import os.path as osp
import re
from collections.abc import Callable

from torch_geometric.data import Data, InMemoryDataset

from fm4npp_geo.data.geometry import TPCGeometry
from fm4npp_geo.data.simulation import SimulationConfig, simulate_events

logger = logging.getLogger(__name__)

#: Version of the simulation output. Bump it when the simulation changes its
#: events for the same settings, so that older cache files are not reloaded.
SIMULATION_VERSION = 1


def _describe(transform: Callable | None) -> str:
    # Same as PyG's own check: the repr without memory addresses.
    return re.sub(r' at 0x[0-9a-fA-F]+', '', repr(transform))


def settings_hash(config: SimulationConfig, geometry: TPCGeometry,
                  pre_transform: Callable | None = None) -> str:
    r"""Return a short hash of everything that shapes the cached events: the
    simulation version, config, geometry and pre-transform."""
    payload = json.dumps(
        {
            'version': SIMULATION_VERSION,
            'config': dataclasses.asdict(config),
            'geometry': dataclasses.asdict(geometry),
            'pre_transform': _describe(pre_transform),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:10]


class TPCSimDataset(InMemoryDataset):
    r"""Simulated sPHENIX-like TPC events from PYTHIA 8 p+p collisions.

    The events are simulated once by
    :func:`~fm4npp_geo.data.simulation.simulate_events` and saved as
    :obj:`root`/processed/<hash>/tpc_sim_n<num_events>_seed<seed>_<hash>.pt,
    where <hash> is a short hash of the config, geometry and pre-transform.
    Constructing the dataset again with the same arguments loads that file,
    and any other settings get a file of their own. The file is written to a
    temporary name and then renamed, so an interrupted run leaves no partial
    cache behind.

    Args:
        root (str): Root directory of the dataset.
        num_events (int): Number of events.
        seed (int, optional): Run seed. (default: :obj:`0`)
        config (SimulationConfig, optional): Simulation settings; the defaults
            when :obj:`None`. (default: :obj:`None`)
        transform (callable, optional): Transform applied to an event on
            every access. (default: :obj:`None`)
        pre_transform (callable, optional): Transform applied once before
            saving. (default: :obj:`None`)
        geometry (TPCGeometry, optional): The TPC; the sPHENIX-like default
            when :obj:`None`. (default: :obj:`None`)
        force_reload (bool, optional): Simulate again even when a cache file
            exists. (default: :obj:`False`)
    """

    def __init__(
        self,
        root: str,
        num_events: int,
        seed: int = 0,
        config: SimulationConfig | None = None,
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        geometry: TPCGeometry | None = None,
        force_reload: bool = False,
    ) -> None:
        if num_events < 1:
            raise ValueError(f"Expected a positive num_events, got "
                             f"{num_events}")
        if seed < 0:
            raise ValueError(f"Expected a non-negative seed, got {seed}")
        self.num_events = num_events
        self.seed = seed
        self.config = config or SimulationConfig()
        self.geometry = geometry or TPCGeometry()
        self.settings_hash = settings_hash(self.config, self.geometry,
                                           pre_transform)
        super().__init__(root, transform, pre_transform,
                         force_reload=force_reload, log=False)
        self.load(self.processed_paths[0])
        logger.debug("Loaded %d events from %s", len(self),
                     self.processed_paths[0])

    @property
    def processed_dir(self) -> str:
        # One folder per settings hash, so that PyG's record of the
        # pre-transform (pre_transform.pt) belongs to these settings only.
        return osp.join(self.root, 'processed', self.settings_hash)

    @property
    def raw_file_names(self) -> list[str]:
        return []

    @property
    def processed_file_names(self) -> list[str]:
        return [
            f'tpc_sim_n{self.num_events}_seed{self.seed}_'
            f'{self.settings_hash}.pt'
        ]

    def download(self) -> None:
        pass

    def process(self) -> None:
        path = self.processed_paths[0]
        logger.info("Simulating %d events with seed %d for %s",
                    self.num_events, self.seed, path)
        data_list: list[Data] = simulate_events(self.num_events, self.seed,
                                                self.config, self.geometry)
        if self.pre_transform is not None:
            data_list = [self.pre_transform(data) for data in data_list]

        temporary = osp.join(osp.dirname(path),
                             f'.{osp.basename(path)}.{os.getpid()}.tmp')
        try:
            self.save(data_list, temporary)
            os.replace(temporary, path)
        finally:
            if osp.exists(temporary):
                os.remove(temporary)
        logger.info("Saved %d events to %s", len(data_list), path)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({len(self)}, seed={self.seed}, '
                f'settings={self.settings_hash})')
