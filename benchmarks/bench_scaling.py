"""Pretraining loss after a fixed budget for several backbone sizes.

Each preset (``configs/model/<name>.yaml``) is pretrained with the k-NNN
objective for the same number of steps on the same batches of simulated
default events (hit-capped batches, same seed), then scored by the k-NNN loss
on held-out events. The script prints a table, writes a JSON record, a
Markdown table and a log-log plot of held-out loss against parameter count.
On a CPU the default budget is tiny, so the numbers show the trend of a short
run, not converged losses. On a GPU, pass the larger presets and budgets.

    python benchmarks/bench_scaling.py --models m1 m2 m3 --steps 20 --max-hits 2000
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from torch_geometric.data import Batch  # noqa: E402

from fm4npp_geo.data import TPCSimDataset  # noqa: E402
from fm4npp_geo.nn import FM4NPPBackbone  # noqa: E402
from fm4npp_geo.pretrain import KNextNearestNeighbors, KNNNTargets  # noqa: E402
from fm4npp_geo.training import Trainer, TrainerConfig  # noqa: E402
from fm4npp_geo.training.distributed import DistributedContext, default_device  # noqa: E402
from fm4npp_geo.training.pretrain import knnn_loss_terms  # noqa: E402
from fm4npp_geo.transforms import HierarchicalRasterScan, HitFeatures  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "model"


@torch.no_grad()
def held_out_loss(objective: KNextNearestNeighbors, events: list, device: torch.device) -> float:
    """Return the k-NNN loss over ``events``, summed over all of them before dividing."""
    objective.eval()
    total, count = 0.0, 0.0
    for first in range(0, len(events), 8):
        batch = Batch.from_data_list(events[first : first + 8]).to(device)
        numerator, denominator = objective(batch, reduce=False)
        total += numerator.item()
        count += denominator.item()
    return total / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["m1", "m2", "m3"], help="presets in configs/model")
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per model")
    parser.add_argument("--max-hits", type=int, default=2000, help="hits per batch")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    parser.add_argument("--k", type=int, default=30, help="neighbours per hit")
    parser.add_argument("--train-events", type=int, default=100, help="pretraining events")
    parser.add_argument("--val-events", type=int, default=20, help="held-out events")
    parser.add_argument("--root", default="outputs/data/bench", help="dataset folder (simulated if missing)")
    parser.add_argument("--dataset-events", type=int, default=1200, help="events in the dataset folder")
    parser.add_argument("--out-dir", default="outputs/benchmarks/scaling", help="where the records go")
    args = parser.parse_args(argv)

    device = default_device()
    dataset = TPCSimDataset(args.root, num_events=args.dataset_events, num_workers=2)
    raw = [dataset[i] for i in range(args.train_events + args.val_events)]
    features = HitFeatures.fit(raw[: args.train_events])
    scan = HierarchicalRasterScan.fit(raw[: args.train_events])
    targets = KNNNTargets(k=args.k)
    events = [targets(scan(features(event))) for event in raw]
    train, val = events[: args.train_events], events[args.train_events :]

    results = []
    sys.stdout.write(f"{'model':<6} {'parameters':>11} {'train s':>8} {'held-out loss':>14}\n")
    for name in args.models:
        kwargs = OmegaConf.to_container(OmegaConf.load(CONFIGS / f"{name}.yaml"))
        torch.manual_seed(0)
        objective = KNextNearestNeighbors(FM4NPPBackbone(**kwargs), k=args.k)
        config = TrainerConfig(steps=args.steps, lr=args.lr, max_hits=args.max_hits, max_events=None, seed=0)
        start = time.perf_counter()
        Trainer(
            objective, train, [e.num_nodes for e in train], config,
            loss_fn=knnn_loss_terms, context=DistributedContext(device=device),
        ).fit()
        seconds = time.perf_counter() - start
        loss = held_out_loss(objective, val, device)
        parameters = objective.backbone.num_parameters()
        results.append({"model": name, "parameters": parameters, "train_seconds": seconds, "held_out_loss": loss})
        sys.stdout.write(f"{name:<6} {parameters:>11,} {seconds:>8.1f} {loss:>14.5f}\n")

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    description = f"{platform.system()} {platform.machine()}, {device}, {torch.get_num_threads()} torch threads"
    record = {"benchmark": "scaling", "settings": vars(args), "results": results, "machine": description}
    (out_dir / "scaling.json").write_text(json.dumps(record, indent=2))
    lines = [
        f"k-NNN pretraining, {args.steps} steps of {args.max_hits} hits, held-out loss on {args.val_events} events",
        "",
        "| model | parameters | train s | held-out loss |",
        "|---|---:|---:|---:|",
        *[
            f"| {r['model']} | {r['parameters']:,} | {r['train_seconds']:.1f} | {r['held_out_loss']:.5f} |"
            for r in results
        ],
        "",
        description,
    ]
    (out_dir / "scaling.md").write_text("\n".join(lines) + "\n")

    figure, axes = plt.subplots(figsize=(5, 4))
    axes.loglog([r["parameters"] for r in results], [r["held_out_loss"] for r in results], "o-")
    for r in results:
        axes.annotate(r["model"], (r["parameters"], r["held_out_loss"]), textcoords="offset points", xytext=(4, 4))
    # Minor-tick labels of a log axis overlap over less than a decade.
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.yaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("backbone parameters")
    axes.set_ylabel("held-out k-NNN loss")
    axes.set_title(f"{args.steps} steps of {args.max_hits} hits")
    figure.tight_layout()
    figure.savefig(out_dir / "scaling.png", dpi=120)
    sys.stdout.write(f"{description}\nrecords in {out_dir}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
