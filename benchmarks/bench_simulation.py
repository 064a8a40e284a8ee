"""Time the simulation of TPC events with one worker and with several.

Both runs simulate the same events (same seed and indices) with
:class:`~fm4npp_geo.data.TPCSimDataset` into fresh temporary folders, so the
times include PYTHIA start-up, worker start-up and writing the chunk files.
The script prints events per second for each run, the speed-up, and the time
that 10,000 events would take at each rate, then checks that both runs wrote
identical events.

    python benchmarks/bench_simulation.py --events 800 --workers 2
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence

import torch

from fm4npp_geo.data import TPCSimDataset
from fm4npp_geo.data.summary import summarize_events

#: Event count of the throughput goal: 10,000 events in under 2 minutes on
#: 2 cores.
PROJECTED_EVENTS = 10_000


def time_simulation(num_events: int, seed: int, num_workers: int,
                    chunk_size: int) -> tuple[float, TPCSimDataset, str]:
    """Simulate into a new temporary folder; return the seconds taken, the
    dataset and the folder, which the caller removes."""
    folder = tempfile.mkdtemp(prefix='bench_simulation_')
    start = time.perf_counter()
    dataset = TPCSimDataset(folder, num_events=num_events, seed=seed,
                            num_workers=num_workers, chunk_size=chunk_size)
    return time.perf_counter() - start, dataset, folder


def events_identical(first: TPCSimDataset, second: TPCSimDataset) -> bool:
    for a, b in zip(first, second):
        if a.keys() != b.keys():
            return False
        for key in a.keys():
            if isinstance(a[key], torch.Tensor) and not torch.equal(
                    a[key], b[key]):
                return False
    return len(first) == len(second)


def machine_description() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(
        os, 'sched_getaffinity') else os.cpu_count()
    return (f'{platform.system()} {platform.machine()}, {cores} usable cores, '
            f'Python {platform.python_version()}, torch {torch.__version__}')


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--events', type=int, default=800,
                        help='events to simulate in each run (default: 800)')
    parser.add_argument('--workers', type=int, default=2,
                        help='worker processes of the parallel run '
                        '(default: 2)')
    parser.add_argument('--chunk-size', type=int, default=None,
                        help='events per chunk file (default: events / '
                        'workers, one chunk per worker, because each chunk '
                        'starts its own PYTHIA instance)')
    parser.add_argument('--seed', type=int, default=0,
                        help='run seed (default: 0)')
    parser.add_argument('--json', default=None,
                        help='also write the results to this JSON file')
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error(f'--events must be at least 1, got {args.events}')
    if args.workers < 2:
        parser.error(f'--workers must be at least 2 to compare with one '
                     f'worker, got {args.workers}')
    chunk_size = args.chunk_size or -(-args.events // args.workers)

    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    seconds, serial, serial_folder = time_simulation(args.events, args.seed,
                                                     1, chunk_size)
    parallel_seconds, parallel, parallel_folder = time_simulation(
        args.events, args.seed, args.workers, chunk_size)
    identical = events_identical(serial, parallel)
    summary = summarize_events(serial)
    for folder in (serial_folder, parallel_folder):
        shutil.rmtree(folder)

    rows = [('1 worker', seconds), (f'{args.workers} workers',
                                    parallel_seconds)]
    print(f'{args.events} events, chunk size {chunk_size}, seed {args.seed}, '
          f"{summary['mean_hits_per_event']:.0f} hits/event; "
          f'{machine_description()}')
    print(f"{'run':<12} {'seconds':>9} {'events/s':>9} "
          f"{'10k events [s]':>15}")
    for name, run_seconds in rows:
        rate = args.events / run_seconds
        print(f'{name:<12} {run_seconds:9.2f} {rate:9.1f} '
              f'{PROJECTED_EVENTS / rate:15.0f}')
    print(f'speed-up with {args.workers} workers: '
          f'{seconds / parallel_seconds:.2f}x; events identical: '
          f"{'yes' if identical else 'NO'}")

    if args.json:
        record = {
            'events': args.events,
            'chunk_size': chunk_size,
            'seed': args.seed,
            'workers': args.workers,
            'seconds_1_worker': seconds,
            'seconds_parallel': parallel_seconds,
            'speed_up': seconds / parallel_seconds,
            'events_identical': identical,
            'mean_hits_per_event': summary['mean_hits_per_event'],
            'machine': machine_description(),
        }
        with open(args.json, 'w') as file:
            json.dump(record, file, indent=2)
    return 0 if identical else 1


if __name__ == '__main__':
    sys.exit(main())
