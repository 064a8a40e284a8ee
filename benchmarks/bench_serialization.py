"""Time the hierarchical raster scan against a plain per-event NumPy version.

Both implement the same definition: r = sqrt(x*x + y*y), phi = atan2(y, x)
and eta = asinh(z / r) in float32, bin indices by the fitted edges (a value
on an edge goes to the upper bin), and a stable sort by (box, r). The script
simulates (or reads) default events with
:class:`~fm4npp_geo.data.TPCSimDataset`, fits the edges on separate events,
and times three ways of ordering the timed events:

- ``numpy``: one NumPy call chain per event (the reference);
- ``torch_per_event``: :class:`HierarchicalRasterScan` on each event;
- ``torch_batch``: :class:`HierarchicalRasterScan` on one ``Batch`` of all
  of them, the vectorized path (building the Batch is timed separately).

It prints a table, checks that every permutation matches the reference, and
writes a JSON record.

    python benchmarks/bench_serialization.py --events 1000 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from fm4npp_geo.data import TPCSimDataset
from fm4npp_geo.transforms import HierarchicalRasterScan


def numpy_raster_scan(
    pos: np.ndarray, r_edges: np.ndarray, phi_edges: np.ndarray, eta_edges: np.ndarray, axis_order: tuple[str, ...]
) -> np.ndarray:
    """Return the hierarchical raster scan order of one event, written plainly in NumPy."""
    x, y, z = pos[:, 0], pos[:, 1], pos[:, 2]
    r = np.sqrt(x * x + y * y)
    phi = np.arctan2(y, x)
    eta = np.arcsinh(z / np.maximum(r, np.float32(1e-6)))
    edges = {"r": r_edges, "phi": phi_edges, "eta": eta_edges}
    values = {"r": r, "phi": phi, "eta": eta}
    box = np.zeros(len(pos), dtype=np.int64)
    for axis in axis_order:
        box = box * (len(edges[axis]) + 1) + np.searchsorted(edges[axis], values[axis], side="right")
    return np.lexsort((r, box))


def best_of(repeats: int, function) -> tuple[float, object]:
    """Run ``function`` ``repeats`` times; return the median seconds and the last result."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{platform.system()} {platform.machine()}, {cores} cores, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, numpy {np.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="timed events (default 1000)")
    parser.add_argument("--fit-events", type=int, default=200, help="separate events the edges are fitted on")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions; the median is reported")
    parser.add_argument("--root", default="outputs/data/bench", help="dataset folder (simulated if missing)")
    parser.add_argument("--workers", type=int, default=2, help="simulation worker processes")
    parser.add_argument("--out", default="outputs/benchmarks/serialization.json", help="JSON record path")
    args = parser.parse_args(argv)

    dataset = TPCSimDataset(args.root, num_events=args.events + args.fit_events, num_workers=args.workers)
    events = [Data(pos=dataset[i].pos) for i in range(args.events)]
    fit_events = [dataset[i] for i in range(args.events, args.events + args.fit_events)]
    scan = HierarchicalRasterScan.fit(fit_events)
    edges = [getattr(scan, f"{axis}_edges").numpy() for axis in ("r", "phi", "eta")]
    positions = [event.pos.numpy() for event in events]
    num_hits = sum(len(p) for p in positions)

    numpy_seconds, numpy_orders = best_of(
        args.repeats, lambda: [numpy_raster_scan(p, *edges, scan.axis_order) for p in positions]
    )
    collate_seconds, batch = best_of(args.repeats, lambda: Batch.from_data_list(events))
    per_event_seconds, per_event = best_of(args.repeats, lambda: [scan(event).order for event in events])
    batch_seconds, batched = best_of(args.repeats, lambda: scan(batch).order.clone())

    sizes = [len(p) for p in positions]
    batch_orders = torch.split(batched, sizes)
    mismatched = sum(
        not np.array_equal(reference, torch_order.numpy()) or not np.array_equal(reference, single.numpy())
        for reference, torch_order, single in zip(numpy_orders, batch_orders, per_event)
    )

    rows = {
        "numpy": numpy_seconds,
        "torch_per_event": per_event_seconds,
        "torch_batch": batch_seconds,
        "torch_batch_with_collate": batch_seconds + collate_seconds,
    }
    record = {
        "benchmark": "serialization",
        "events": args.events,
        "hits": num_hits,
        "mean_hits_per_event": num_hits / args.events,
        "seconds": rows,
        "events_per_second": {name: args.events / value for name, value in rows.items()},
        "speedup_over_numpy": {name: numpy_seconds / value for name, value in rows.items()},
        "mismatched_events": mismatched,
        "repeats": args.repeats,
        "machine": machine(),
    }
    sys.stdout.write(f"hierarchical raster scan, {args.events} events, {num_hits / args.events:.0f} hits each\n")
    sys.stdout.write(f"{'implementation':<26} {'events/s':>12} {'vs numpy':>9}\n")
    for name, value in rows.items():
        sys.stdout.write(f"{name:<26} {args.events / value:>12.0f} {numpy_seconds / value:>8.1f}x\n")
    sys.stdout.write(f"permutations different from numpy: {mismatched} of {args.events} events\n{machine()}\n")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    return 0 if mismatched == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
