"""PyG dataset over a folder of TPCpp-10M event files, read lazily."""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from torch_geometric.data import Data, Dataset

from fm4npp_geo.data.geometry import TPCGeometry
from fm4npp_geo.data.tpcpp import (
    TPCppLayout,
    _index_folder,
    _load_shard,
    _make_event,
    _validate,
)
from fm4npp_geo.data.validate import OUT_OF_VOLUME


class TPCppDataset(Dataset):
    r"""Events of one TPCpp-10M split folder, such as ``labeled/train``.

    The layout and the attributes of each event are those of
    :mod:`fm4npp_geo.data.tpcpp`: ``pos``, ``energy`` and ``layer`` always,
    ``track_id`` and ``particle_id``, ``pid_label`` and ``noise_label`` when
    the folder contains the ``track_ids``, ``pid_labels`` and ``noise_tags``
    archives. A label component missing from the folder is absent from
    every event; an unlabeled split has only the spacepoints.

    Construction reads the per-event sizes and the array headers of every
    archive and checks that they agree. An event is read on access: the
    archives of its shard are loaded whole, checked for non-finite
    coordinates and out-of-range labels, and kept in a cache of the
    :obj:`cache_size` most recently used shards. Events are numbered shard
    by shard in the sorted order of the shard names.

    Args:
        root (str or Path): The split folder.
        layout (TPCppLayout, optional): File and key names; the defaults
            when :obj:`None`. (default: :obj:`None`)
        geometry (TPCGeometry, optional): The TPC used to find each hit's
            pad row; the sPHENIX-like default when :obj:`None`.
            (default: :obj:`None`)
        noise_track_id (int, optional): Track id of hits without a truth
            particle, which get ``particle_id`` 0, or :obj:`None` if every
            track id is a particle. (default: :obj:`0`)
        cache_size (int, optional): Number of shards kept in memory.
            (default: :obj:`2`)
        transform (callable, optional): Transform applied to an event on
            every access. (default: :obj:`None`)
        pre_transform (callable, optional): Transform applied to an event
            when it is read, before :obj:`transform`. Nothing is cached on
            disk, so it runs on every access too. (default: :obj:`None`)
        out_of_volume (str, optional): ``"raise"`` rejects an event with a
            hit more than 1 cm outside the TPC, ``"drop"`` removes such hits
            and logs the count. (default: :obj:`"raise"`)

    Raises:
        FileNotFoundError: If :obj:`root` contains no spacepoint archive.
        ValueError: If the archives are inconsistent: a label archive
            without its spacepoint archive or the reverse, event sizes that
            do not add up to the rows, a label array of another length, or
            an unreadable archive. The message names the file and the key.
    """

    def __init__(
        self,
        root: str | Path,
        layout: TPCppLayout | None = None,
        geometry: TPCGeometry | None = None,
        noise_track_id: int | None = 0,
        cache_size: int = 2,
        transform: Callable[[Data], Data] | None = None,
        pre_transform: Callable[[Data], Data] | None = None,
        out_of_volume: str = 'raise',
    ) -> None:
        if cache_size < 1:
            raise ValueError(f"Expected cache_size >= 1, got {cache_size}")
        if out_of_volume not in OUT_OF_VOLUME:
            raise ValueError(f"Expected out_of_volume to be one of "
                             f"{OUT_OF_VOLUME}, got {out_of_volume!r}")
        self.layout = layout or TPCppLayout()
        self.geometry = geometry or TPCGeometry()
        self.noise_track_id = noise_track_id
        self.cache_size = cache_size
        self.out_of_volume = out_of_volume
        self._shards = _index_folder(Path(root), self.layout)
        counts = [shard.sizes.shape[0] for shard in self._shards]
        self._first_event = np.concatenate([[0], np.cumsum(counts)]).tolist()
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        super().__init__(str(root), transform, pre_transform)

    @property
    def files(self) -> list[Path]:
        r"""The spacepoint archive of every shard, in event order."""
        return [shard.spacepoints for shard in self._shards]

    def len(self) -> int:
        return self._first_event[-1]

    def get(self, idx: int) -> Data:
        shard_index = bisect.bisect_right(self._first_event, idx) - 1
        shard = self._shards[shard_index]
        arrays = self._load(shard_index)

        local = idx - self._first_event[shard_index]
        start = int(shard.starts[local])
        stop = start + int(shard.sizes[local])
        data = _make_event(arrays, start, stop, self.geometry,
                           self.noise_track_id)
        data = _validate(data, shard.spacepoints, local, self.geometry,
                         self.out_of_volume)
        if self.pre_transform is not None:
            data = self.pre_transform(data)
        return data

    def _load(self, shard_index: int) -> dict[str, np.ndarray]:
        if shard_index in self._cache:
            self._cache.move_to_end(shard_index)
            return self._cache[shard_index]
        arrays = _load_shard(self._shards[shard_index], self.layout)
        self._cache[shard_index] = arrays
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return arrays

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({len(self)}, '
                f'files={len(self._shards)})')
