"""Track-finding quality against the number of labeled training events.

The FM4NPP paper reports that a frozen pretrained backbone gains most over
its random-backbone control (AdapterOnly) when few labeled events are
available. This study tests that on the library's simulated events: it
pretrains one backbone with k-NNN on unlabeled events, then for each labeled
training-set size trains

- ``fm4npp``: the query decoder on the frozen pretrained backbone,
- ``fm4npp_finetuned``: the same, with the backbone trained too,
- ``adapter_only``: the query decoder on a frozen random backbone,
- ``scratch``: backbone and decoder trained end to end from random
  initialisation, for the adapter steps plus the pretraining steps,
- ``exatrkx``: the Exa.TrkX-style GNN pipeline,

and scores all of them on one fixed test set with the same evaluator. It
prints a Markdown table and writes it with a plot of each metric against the
labeled events.

    python benchmarks/bench_data_efficiency.py --sizes 25 50 100 200

The defaults are sized for a 2-core CPU (about half an hour); the paper's
sizes (100, 300, 1,000, 3,000 labeled events) need a GPU.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from fm4npp_geo.data import TPCSimDataset
from fm4npp_geo.metrics import TrackingEvaluator
from fm4npp_geo.training import pretrain_backbone
from fm4npp_geo.training.adapters import QueryTracker
from fm4npp_geo.transforms import HierarchicalRasterScan, HitFeatures

BACKBONE = dict(d_model=64, n_layer=4, d_state=16, headdim=64, chunk_size=64)
MODELS = ('fm4npp', 'fm4npp_finetuned', 'adapter_only', 'scratch', 'exatrkx')


def build_model(name: str, checkpoint: str, args: argparse.Namespace):
    common = dict(hidden_channels=64, num_queries=args.queries,
                  steps=args.adapter_steps, batch_size=8, lr=2e-3,
                  seed=args.seed)
    if name == 'fm4npp':
        return QueryTracker(backbone_checkpoint=checkpoint, **common)
    if name == 'fm4npp_finetuned':
        return QueryTracker(backbone_checkpoint=checkpoint, finetune=True,
                            **common)
    if name == 'adapter_only':
        return QueryTracker(backbone=BACKBONE, **common)
    if name == 'scratch':
        scratch = dict(common, steps=args.adapter_steps + args.pretrain_steps)
        return QueryTracker(backbone=BACKBONE, finetune=True, **scratch)
    from baselines.exatrkx import ExaTrkXTracker
    return ExaTrkXTracker(seed=args.seed)


def evaluate(model, events) -> dict[str, float]:
    evaluator = TrackingEvaluator()
    for event in events:
        evaluator.update(model.predict(event), event.particle_id)
    result = evaluator.compute()
    return {key: float(result[key]) for key in ('ari', 'efficiency',
                                                 'purity')}


def write_plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for axis, metric in zip(axes, ('ari', 'efficiency', 'purity')):
        for name in MODELS:
            points = [(row['labeled_events'], row[metric]) for row in rows
                      if row['model'] == name]
            if points:
                axis.plot(*zip(*points), marker='o', label=name)
        axis.set_xscale('log')
        axis.set_xlabel('labeled training events')
        axis.set_ylabel(metric)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[25, 50, 100, 200],
                        help='labeled training-set sizes (default: 25 50 '
                        '100 200)')
    parser.add_argument('--unlabeled', type=int, default=400,
                        help='events for pretraining (default: 400)')
    parser.add_argument('--test', type=int, default=60,
                        help='test events (default: 60)')
    parser.add_argument('--pretrain-steps', type=int, default=600,
                        help='k-NNN pretraining steps (default: 600)')
    parser.add_argument('--adapter-steps', type=int, default=300,
                        help='optimizer steps of each adapter (default: 300)')
    parser.add_argument('--queries', type=int, default=100,
                        help='decoder queries (default: 100)')
    parser.add_argument('--models', nargs='+', default=list(MODELS),
                        choices=MODELS, help='models to train')
    parser.add_argument('--root', default='outputs/data/tpc_pythia',
                        help='dataset folder (default: outputs/data/'
                        'tpc_pythia)')
    parser.add_argument('--out', default='outputs/data_efficiency',
                        help='output folder (default: outputs/data_efficiency)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if min(args.sizes) < 1 or args.test < 1 or args.unlabeled < 1:
        parser.error('sizes, --test and --unlabeled must be positive')
    logging.basicConfig(level=logging.INFO,
                        format='%(asctime)s %(name)s: %(message)s')
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # 1. One sequence of events: unlabeled, then the test set, then the
    # largest labeled set, whose prefixes are the smaller ones.
    total = args.unlabeled + args.test + max(args.sizes)
    dataset = TPCSimDataset(args.root, num_events=total, seed=args.seed,
                            num_workers=2)
    events = [dataset[i] for i in range(total)]
    unlabeled = events[:args.unlabeled]
    test = events[args.unlabeled:args.unlabeled + args.test]
    labeled = events[args.unlabeled + args.test:]
    features = HitFeatures.fit(unlabeled)
    scan = HierarchicalRasterScan.fit(unlabeled)
    prepare = lambda items: [scan(features(e)) for e in items]  # noqa: E731
    unlabeled, test, labeled = prepare(unlabeled), prepare(test), prepare(
        labeled)

    # 2. Pretraining, shared by every size.
    checkpoint = out / 'backbone.pt'
    pretrain_backbone(unlabeled, backbone=BACKBONE, k=30,
                      steps=args.pretrain_steps, batch_size=8, lr=2e-3,
                      checkpoint=checkpoint)

    # 3. Every model at every size; the first fifth of each labeled set
    # tunes the track cuts.
    rows = []
    for size in sorted(args.sizes):
        train = labeled[:size]
        for name in args.models:
            torch.manual_seed(args.seed)
            model = build_model(name, str(checkpoint), args)
            start = time.perf_counter()
            model.fit(train, train[:max(1, size // 5)])
            seconds = time.perf_counter() - start
            row = {'model': name, 'labeled_events': size,
                   **evaluate(model, test), 'train_seconds': seconds}
            rows.append(row)
            logging.info('%s', row)

    # 4. The table and the plot.
    lines = ['| Model | Labeled events | ARI | Efficiency | Purity | Train s |',
             '|---|---|---|---|---|---|']
    lines += [f"| {r['model']} | {r['labeled_events']} | {r['ari']:.3f} | "
              f"{r['efficiency']:.3f} | {r['purity']:.3f} | "
              f"{r['train_seconds']:.0f} |" for r in rows]
    table = '\n'.join(lines)
    sys.stdout.write(table + '\n')
    (out / 'data_efficiency.md').write_text(table + '\n')
    (out / 'data_efficiency.json').write_text(json.dumps(rows, indent=2))
    write_plot(rows, out / 'data_efficiency.png')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
