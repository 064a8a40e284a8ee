"""Time the vectorized tracking evaluator against a straightforward per-event loop.

Both sides score the same synthetic events: truth hit assignments of
TPC-like size (about 14 particles of 3 to 70 hits plus 10% noise per event)
and predictions made by splitting, merging and scattering the truth. The
reference loops over events in Python, calls scikit-learn's
``adjusted_rand_score`` and matches each predicted track to particles in a
Python loop over tracks. The evaluator is
:class:`~fm4npp_geo.metrics.TrackingEvaluator`. The script prints both times,
their ratio and the metrics of each side, checks that the metrics agree, and
can write a JSON record.

    python benchmarks/bench_metrics.py --events 1000 --json bench_metrics.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score

from fm4npp_geo.metrics import TrackingEvaluator

#: Metrics both sides report; they must agree to this absolute tolerance.
METRICS = ("ari", "efficiency", "purity", "dm_efficiency", "dm_fake_rate", "dm_duplicate_rate", "trackml_score")
TOLERANCE = 1e-12


def make_event(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (track_id, particle_id, weight) of one synthetic event."""
    num_particles = int(rng.poisson(14)) + 1
    sizes = rng.integers(3, 71, num_particles)
    particle = np.repeat(np.arange(1, num_particles + 1), sizes)
    particle = np.concatenate([particle, np.zeros(int(0.1 * particle.size), dtype=np.int64)])
    particle = particle[rng.permutation(particle.size)]

    # Predictions: the truth, with 15% of particles split in two, 10% merged into
    # another particle's track, 5% of hits moved to a random track, and noise
    # mostly left unassigned.
    track = particle.copy()
    split = rng.random(num_particles + 1) < 0.15
    track = np.where(split[particle] & (rng.random(particle.size) < 0.5), track + 1000, track)
    merge_into = np.where(rng.random(num_particles + 1) < 0.10, rng.integers(1, num_particles + 1, num_particles + 1), -1)
    track = np.where(merge_into[particle] > 0, merge_into[particle], track)
    moved = rng.random(particle.size) < 0.05
    track[moved] = rng.integers(1, num_particles + 1, int(moved.sum()))
    noise = particle == 0
    track[noise & (rng.random(particle.size) < 0.8)] = -1
    weight = np.where(noise, 0.0, rng.random(particle.size))
    return track, particle, weight / weight.sum()


def reference_metrics(events: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Score the events one by one with scikit-learn and Python loops over tracks."""
    aris, scores = [], []
    truth_tracks = found = 0
    fractions = []
    reconstructable = dm_found = num_tracks = matched = duplicates = 0
    for track, particle, weight in events:
        labels = track.copy()
        alone = np.flatnonzero(labels == -1)
        labels[alone] = labels.max() + 1 + np.arange(alone.size)
        aris.append(adjusted_rand_score(particle, labels))

        totals = Counter(particle.tolist())
        event_truth = {p for p, n in totals.items() if p != 0 and n >= 3}
        truth_tracks += len(event_truth)
        reconstructable += len(event_truth)
        fm4npp_found, majority_found, claims = set(), set(), Counter()
        score = 0.0
        for label in np.unique(labels):
            hits = np.flatnonzero(labels == label)
            counts = Counter(particle[hits].tolist())
            max_count = max(counts.values())
            majority = min(p for p, n in counts.items() if n == max_count)
            size = hits.size
            if 2 * max_count > size and 2 * max_count > totals[majority]:
                score += float(weight[hits][particle[hits] == majority].sum())
            if size >= 4:
                fractions.append(max_count / size)
                if majority != 0 and 2 * max_count > totals[majority]:
                    fm4npp_found.add(majority)
            if size >= 3:
                num_tracks += 1
                if majority != 0 and max_count > 0.5 * size and max_count > 0.5 * totals[majority]:
                    matched += 1
                    majority_found.add(majority)
                    claims[majority] += 1
        found += len(fm4npp_found & event_truth)
        dm_found += len(majority_found & event_truth)
        duplicates += sum(n - 1 for p, n in claims.items() if p in event_truth)
        scores.append(score / weight.sum())
    return {
        "ari": float(np.mean(aris)),
        "efficiency": found / truth_tracks,
        "purity": float(np.mean(fractions)),
        "dm_efficiency": dm_found / reconstructable,
        "dm_fake_rate": (num_tracks - matched) / num_tracks,
        "dm_duplicate_rate": duplicates / num_tracks,
        "trackml_score": float(np.mean(scores)),
    }


def evaluator_metrics(events: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, float]:
    evaluator = TrackingEvaluator()
    for track, particle, weight in events:
        evaluator.update(track, particle, weight=weight)
    result = evaluator.compute()
    return {name: result[name] for name in METRICS}


def timed(function, events) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    result = function(events)
    return time.perf_counter() - start, result


def machine_description() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{platform.system()} {platform.processor() or platform.machine()}, {cores} cores available, "
        f"Python {platform.python_version()}, NumPy {np.__version__}, torch {torch.__version__}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="number of synthetic events (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic events")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each side; the fastest counts")
    parser.add_argument("--json", default=None, help="write the record to this JSON file")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    events = [make_event(rng) for _ in range(args.events)]
    num_hits = sum(particle.size for _, particle, _ in events)
    reference_runs = [timed(reference_metrics, events) for _ in range(args.repeats)]
    evaluator_runs = [timed(evaluator_metrics, events) for _ in range(args.repeats)]
    reference_seconds, reference = min(reference_runs, key=lambda run: run[0])
    evaluator_seconds, ours = min(evaluator_runs, key=lambda run: run[0])
    agree = all(abs(reference[name] - ours[name]) <= TOLERANCE for name in METRICS)

    sys.stdout.write(f"{args.events} events, {num_hits / args.events:.0f} hits per event\n\n")
    sys.stdout.write("| Metric | Reference loop | TrackingEvaluator |\n|---|---|---|\n")
    for name in METRICS:
        sys.stdout.write(f"| {name} | {reference[name]:.12f} | {ours[name]:.12f} |\n")
    sys.stdout.write(
        f"| seconds | {reference_seconds:.3f} | {evaluator_seconds:.3f} |\n\n"
        f"speed-up: {reference_seconds / evaluator_seconds:.1f}x; metrics "
        f"{'agree' if agree else 'DIFFER'} to {TOLERANCE:g}\n"
    )
    if args.json:
        record = {
            "events": args.events,
            "seed": args.seed,
            "mean_hits_per_event": num_hits / args.events,
            "reference_seconds": reference_seconds,
            "evaluator_seconds": evaluator_seconds,
            "speedup": reference_seconds / evaluator_seconds,
            "metrics_agree": agree,
            "reference": reference,
            "evaluator": ours,
            "machine": machine_description(),
        }
        with open(args.json, "w") as file:
            json.dump(record, file, indent=2)
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
