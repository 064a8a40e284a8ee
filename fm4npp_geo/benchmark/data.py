"""Benchmark events: simulated or read from TrackML files, cut into disjoint splits."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from omegaconf import DictConfig, OmegaConf
from torch_geometric.data import Data

from fm4npp_geo.data import TPCSimDataset, TrackMLDataset

logger = logging.getLogger(__name__)

#: Event sources of ``data.source``, with the description a record gives each.
SOURCES = {
    "tpc_sim": "PYTHIA 8 p+p 200 GeV + fm4npp-geo TPC simulation",
    "trackml": "TrackML challenge files",
}


def split_sizes(data_cfg: DictConfig) -> dict[str, int]:
    """Read and check the split sizes ``data.num_{pretrain,train,val,test}``.

    Raises:
        ValueError: a size is not a whole number, or is below its minimum (1 for
            train and test, 0 for pretrain and val).
    """
    minimum = {"pretrain": 0, "train": 1, "val": 0, "test": 1}
    sizes = {}
    for name, low in minimum.items():
        value = data_cfg.get(f"num_{name}")
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"data.num_{name} must be a whole number >= {low}, got {value!r}")
        sizes[name] = value
    return sizes


def data_source(data_cfg: DictConfig) -> str:
    """Return ``data.source`` (default ``"tpc_sim"``).

    Raises:
        ValueError: the source is unknown, or ``trackml`` is chosen without a
            ``data.root`` folder.
    """
    source = data_cfg.get("source", "tpc_sim")
    if source not in SOURCES:
        raise ValueError(f"data.source must be one of {sorted(SOURCES)}, got {source!r}")
    if source == "trackml" and (OmegaConf.is_missing(data_cfg, "root") or data_cfg.root is None):
        raise ValueError("data.root must name a folder of TrackML events, e.g. data.root=/path/to/train_1")
    return source


def load_events(data_cfg: DictConfig, num_events: int, progress: bool) -> list[Data]:
    """Return the first ``num_events`` events of the configured source.

    ``tpc_sim`` simulates them once and caches them under ``data.root`` (see
    :class:`~fm4npp_geo.data.TPCSimDataset`). ``trackml`` reads the TrackML
    events of the folder ``data.root`` in name order, keeping each event's truth
    ``weight`` for the TrackML score.

    Raises:
        ValueError: the source is unknown, or the TrackML folder contains fewer events
            than the splits need.
    """
    source = data_source(data_cfg)
    if source == "trackml":
        dataset = TrackMLDataset(root=data_cfg.root, noise_pt_threshold=float(data_cfg.get("noise_pt_threshold", 0.06)))
        if len(dataset) < num_events:
            raise ValueError(
                f"the splits need {num_events} events but the TrackML folder {data_cfg.root} contains {len(dataset)}"
            )
        logger.info("reading %d TrackML events from %s", num_events, data_cfg.root)
        return [dataset[i] for i in range(num_events)]

    logger.info("loading or simulating %d events under %s", num_events, data_cfg.root)
    simulation = data_cfg.get("simulation")
    dataset = TPCSimDataset(
        root=data_cfg.root,
        num_events=num_events,
        seed=int(data_cfg.seed),
        config=OmegaConf.to_container(simulation, resolve=True) if simulation is not None else None,
        num_workers=int(data_cfg.get("num_workers", 1)),
        chunk_size=int(data_cfg.get("chunk_size", 1000)),
        progress=progress,
    )
    return [dataset[i] for i in range(len(dataset))]


def split_events(events: Sequence[Data], sizes: dict[str, int]) -> dict[str, list[Data]]:
    """Cut consecutive, disjoint splits of the given sizes, in the given order."""
    needed = sum(sizes.values())
    if needed > len(events):
        raise ValueError(f"splits need {needed} events but only {len(events)} were generated")
    splits, start = {}, 0
    for name, size in sizes.items():
        splits[name] = list(events[start : start + size])
        start += size
    return splits
