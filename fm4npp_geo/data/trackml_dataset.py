"""PyG dataset over a folder of TrackML challenge events, read lazily."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from torch_geometric.data import Data, Dataset

from fm4npp_geo.data.trackml import read_trackml_event
from fm4npp_geo.data.validate import OUT_OF_VOLUME

_HITS_SUFFIXES = ('-hits.csv.gz', '-hits.csv')
_TRAILING_NUMBER = re.compile(r'(\d+)$')


def find_trackml_events(root: str | Path) -> list[Path]:
    r"""Find the events of a TrackML folder by their hits files.

    Args:
        root (str or Path): Folder with ``<prefix>-hits.csv.gz`` or
            ``<prefix>-hits.csv`` files next to the other files of each
            event.

    Returns:
        list[Path]: The event prefixes (``root/event000000001`` and so on),
        sorted by name.

    Raises:
        FileNotFoundError: If :obj:`root` is not a folder or contains no hits
            file.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"TrackML folder '{root}' not found; pass the "
                                f"folder of the '<prefix>-hits.csv.gz' files")
    prefixes = set()
    for path in root.iterdir():
        for suffix in _HITS_SUFFIXES:
            if path.name.endswith(suffix) and path.is_file():
                prefixes.add(path.name[:-len(suffix)])
    if not prefixes:
        raise FileNotFoundError(
            f"No TrackML events in '{root}': expected files named "
            f"'<prefix>-hits.csv.gz' or '<prefix>-hits.csv'")
    return [root / prefix for prefix in sorted(prefixes)]


class TrackMLDataset(Dataset):
    r"""Events of a TrackML challenge folder, read from CSV on access.

    Each event is :func:`~fm4npp_geo.data.trackml.read_trackml_event` of one
    prefix found by :func:`find_trackml_events`, so it needs its hits,
    cells, particles and truth files. When the prefix ends in digits, as
    the challenge's ``event000000001`` does, the event also gets
    ``event_id``, the number those digits form.

    Args:
        root (str or Path): The folder of the events.
        noise_pt_threshold (float, optional): Hits of particles below this
            transverse momentum in GeV get ``noise_label = True``.
            (default: :obj:`0.06`)
        transform (callable, optional): Transform applied to an event on
            every access. (default: :obj:`None`)
        pre_transform (callable, optional): Transform applied to an event
            when it is read, before :obj:`transform`. Nothing is cached on
            disk, so it runs on every access too. (default: :obj:`None`)
        out_of_volume (str, optional): ``"raise"`` rejects an event with a
            hit outside the TrackML detector, ``"drop"`` removes such hits
            and logs the count. (default: :obj:`"raise"`)

    Raises:
        FileNotFoundError: If :obj:`root` contains no hits file.
    """

    def __init__(
        self,
        root: str | Path,
        noise_pt_threshold: float = 0.06,
        transform: Callable[[Data], Data] | None = None,
        pre_transform: Callable[[Data], Data] | None = None,
        out_of_volume: str = 'raise',
    ) -> None:
        if out_of_volume not in OUT_OF_VOLUME:
            raise ValueError(f"Expected out_of_volume to be one of "
                             f"{OUT_OF_VOLUME}, got {out_of_volume!r}")
        self.noise_pt_threshold = noise_pt_threshold
        self.out_of_volume = out_of_volume
        self.prefixes = find_trackml_events(root)
        super().__init__(str(root), transform, pre_transform)

    def len(self) -> int:
        return len(self.prefixes)

    def get(self, idx: int) -> Data:
        prefix = self.prefixes[idx]
        data = read_trackml_event(prefix, self.noise_pt_threshold,
                                  self.out_of_volume)
        number = _TRAILING_NUMBER.search(prefix.name)
        if number is not None:
            data.event_id = int(number.group(1))
        if self.pre_transform is not None:
            data = self.pre_transform(data)
        return data
