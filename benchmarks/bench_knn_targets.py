"""Time k-NNN targets against dense pairwise top-k, from p+p to heavy-ion hit counts.

Events of N hits are built by overlaying simulated default events (PYTHIA 8
p+p through the TPC simulation) until N hits are reached, a stand-in for
pile-up and central heavy-ion events. Hits get the model features, are
ordered by the hierarchical raster scan, and their scaled (eta, phi, r)
become the coordinates. For each N the script times
:func:`~fm4npp_geo.pretrain.knnn_targets` (KD-trees, O(N k) memory) and the
dense method of the FM4NPP code: all pairwise distances, later hits only,
``torch.topk`` (computed in row blocks so that memory allows it, and skipped
above ``--dense-max``). It checks that both give identical targets and masks,
prints a table and writes a JSON record.

    python benchmarks/bench_knn_targets.py --sizes 850 3200 20000 100000 --k 30
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
from torch_geometric.data import Data

from fm4npp_geo.data import TPCSimDataset
from fm4npp_geo.pretrain import knnn_targets
from fm4npp_geo.transforms import HierarchicalRasterScan, HitFeatures

# Rows per block of the dense method: 1,000 rows of 100,000 float64 distances is 800 MB.
DENSE_BLOCK_ELEMENTS = 50_000_000


def dense_topk(coords: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """k nearest later hits by dense pairwise distances and ``torch.topk``, in row blocks."""
    num_hits = coords.size(0)
    points = coords.double()
    rows = max(1, DENSE_BLOCK_ELEMENTS // max(1, num_hits))
    targets = coords.new_zeros(num_hits, k, coords.size(1))
    mask = torch.zeros(num_hits, k, dtype=torch.bool)
    columns = torch.arange(num_hits)
    for first in range(0, num_hits, rows):
        block = torch.arange(first, min(first + rows, num_hits))
        distance = torch.zeros(block.numel(), num_hits, dtype=torch.float64)
        for axis in range(points.size(1)):
            distance += (points[block, None, axis] - points[None, :, axis]) ** 2
        distance.masked_fill_(columns[None, :] <= block[:, None], float("inf"))
        values, index = torch.topk(distance, min(k, num_hits), dim=1, largest=False, sorted=True)
        found = torch.isfinite(values)
        mask[block, : values.size(1)] = found
        targets[block, : values.size(1)] = torch.where(found[..., None], coords[index], coords.new_zeros(()))
    return targets, mask


def overlay_event(events: list[Data], num_hits: int) -> Data:
    """Concatenate events until ``num_hits`` hits, cutting the last one short."""
    positions, energies, total = [], [], 0
    for event in events:
        take = min(event.num_nodes, num_hits - total)
        positions.append(event.pos[:take])
        energies.append(event.energy[:take])
        total += take
        if total == num_hits:
            break
    if total < num_hits:
        raise ValueError(f"{len(events)} events hold only {total} hits; simulate more to reach {num_hits}")
    return Data(pos=torch.cat(positions), energy=torch.cat(energies))


def timed(function, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[850, 3200, 20_000, 100_000], help="hits per event")
    parser.add_argument("--k", type=int, default=30, help="neighbours per hit")
    parser.add_argument("--dense-max", type=int, default=20_000, help="largest N timed with the dense method")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions; the fastest is reported")
    parser.add_argument("--root", default="outputs/data/bench", help="dataset folder (simulated if missing)")
    parser.add_argument(
        "--events", type=int, default=1200,
        help="events in the dataset (1200 shares the files of bench_serialization.py); only those needed are read",
    )
    parser.add_argument("--out", default="outputs/benchmarks/knn_targets.json", help="JSON record path")
    args = parser.parse_args(argv)

    dataset = TPCSimDataset(args.root, num_events=args.events, num_workers=2)
    events, total = [], 0
    for index in range(len(dataset)):
        events.append(dataset[index])
        total += events[-1].num_nodes
        if total >= max(args.sizes):
            break
    features = HitFeatures.fit(events)
    scan = HierarchicalRasterScan.fit(events)

    results, failures = [], 0
    sys.stdout.write(f"k-NNN targets, k = {args.k}\n{'hits':>8} {'kd-tree s':>10} {'dense s':>10} {'speed-up':>9} identical\n")
    for size in args.sizes:
        event = scan(features(overlay_event(events, size)))
        coords = event.x[event.order, 1:4]
        fast_seconds, (targets, mask) = timed(lambda: knnn_targets(coords, args.k), args.repeats)
        row = {"hits": size, "kd_tree_seconds": fast_seconds, "dense_seconds": None, "identical": None}
        if size <= args.dense_max:
            dense_seconds, (dense_targets, dense_mask) = timed(lambda: dense_topk(coords, args.k), 1 if size > 5000 else args.repeats)
            identical = bool(torch.equal(mask, dense_mask) and torch.equal(targets, dense_targets))
            failures += not identical
            row.update(dense_seconds=dense_seconds, identical=identical, speedup=dense_seconds / fast_seconds)
            sys.stdout.write(
                f"{size:>8} {fast_seconds:>10.3f} {dense_seconds:>10.3f} {dense_seconds / fast_seconds:>8.1f}x {identical}\n"
            )
        else:
            sys.stdout.write(f"{size:>8} {fast_seconds:>10.3f} {'skipped':>10} {'':>9} -\n")
        results.append(row)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    description = f"{platform.system()} {platform.machine()}, {cores} cores, {torch.get_num_threads()} torch threads"
    sys.stdout.write(description + "\n")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": "knn_targets", "k": args.k, "results": results, "machine": description}
    out.write_text(json.dumps(record, indent=2))
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
