"""Command-line entry points: ``fm4npp-geo COMMAND [key=value ...]``.

Each command composes the hydra config of the same name from the ``configs/``
folder, applies the ``key=value`` overrides, and runs.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from fm4npp_geo.config_checks import check_config, describe_composition_error
from fm4npp_geo.config_schema import register_schemas, schema_name
from fm4npp_geo.data.validate import InvalidEventError

logger = logging.getLogger("fm4npp_geo")

USAGE = """usage: fm4npp-geo COMMAND [key=value ...]

commands:
  baseline    train the baseline 'name' (exatrkx, exatrkx_trackml, gnn_pid,
              gnn_noise) on the benchmark's labeled events, save its
              checkpoints and write baseline.json with test metrics to out_dir
  benchmark   simulate events, pretrain the backbone, train every tracker in
              'trackers', evaluate them on the same test events, and write
              benchmark.json, report.md and plots to out_dir
  finetune    train the adapter of task=tracking|pid|noise on the backbone in
              'pretrained' (null: a random backbone; finetune=true trains the
              backbone too) and score it on the test split
  model-info  print the parameter counts of the presets m1..m6 beside the
              paper's, and of the composed `model` config by part
  pretrain    pretrain the backbone with k-NNN on data.num_pretrain events and
              write checkpoints, metrics.csv and backbone.pt to out_dir
              (resume=true continues; several processes: torchrun
              --nproc_per_node=N -m fm4npp_geo.cli pretrain ...)
  simulate    simulate num_events events into data.root (only the chunks not
              yet there, in data.num_workers processes) and print their
              summary: hits and tracks per event, noise fraction, PID mix,
              hit radius range and layers populated

Overrides use hydra syntax, e.g. `fm4npp-geo benchmark out_dir=runs/a data.num_test=50`.
Add --cfg to print the composed config without running.
"""


def config_dir() -> Path:
    """Return the hydra config folder: $FM4NPP_GEO_CONFIG_DIR or the repository's configs/."""
    override = os.environ.get("FM4NPP_GEO_CONFIG_DIR")
    path = Path(override) if override else Path(__file__).resolve().parents[1] / "configs"
    if not (path / "benchmark.yaml").is_file():
        raise FileNotFoundError(
            f"hydra config folder not found at {path}; install the project in editable mode "
            "(`pip install -e .` from the repository) or set FM4NPP_GEO_CONFIG_DIR to its configs/ folder"
        )
    return path


def _baseline(cfg: DictConfig) -> int:
    from baselines.run import run_baseline

    if cfg.name not in cfg.baselines:
        sys.stderr.write(f"fm4npp-geo baseline: unknown name {cfg.name!r}; choose one of {sorted(cfg.baselines)}\n")
        return 2
    record = run_baseline(cfg)
    sys.stdout.write(json.dumps({"name": record["name"], "test": record["test"]}, indent=2, default=float) + "\n")
    return 0


def _benchmark(cfg: DictConfig) -> int:
    from fm4npp_geo.benchmark import format_table, run_benchmark
    from fm4npp_geo.benchmark.runner import split_sizes

    try:
        split_sizes(cfg.data)
    except ValueError as error:
        sys.stderr.write(f"fm4npp-geo benchmark: invalid configuration: {error}\n")
        return 2
    record = run_benchmark(cfg)
    sys.stdout.write("\n" + format_table(record) + "\n")
    data = record["data"]
    sys.stdout.write(
        f"\n{data['num_test']} test events, {data['mean_hits_per_event']:.0f} hits and "
        f"{data['mean_tracks_per_event']:.1f} tracks per event; records in {cfg.out_dir}\n"
    )
    return 0


def _whole_number(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return value


def _simulate(cfg: DictConfig) -> int:
    from tqdm.auto import tqdm

    from fm4npp_geo.data import SimulationConfig, TPCSimDataset
    from fm4npp_geo.data.summary import format_summary, summarize_events

    try:
        num_events = _whole_number(cfg.num_events, "num_events", 1)
        seed = _whole_number(cfg.data.seed, "data.seed", 0)
        chunk_size = _whole_number(cfg.data.chunk_size, "data.chunk_size", 1)
        num_workers = _whole_number(cfg.data.num_workers, "data.num_workers", 0)
        config = SimulationConfig.from_dict(OmegaConf.to_container(cfg.data.simulation, resolve=True))
    except (ValueError, TypeError) as error:
        sys.stderr.write(f"fm4npp-geo simulate: invalid configuration: {error}\n")
        return 2

    progress = bool(cfg.progress)
    dataset = TPCSimDataset(
        root=cfg.data.root,
        num_events=num_events,
        seed=seed,
        config=config,
        num_workers=num_workers,
        chunk_size=chunk_size,
        progress=progress,
    )
    # Events are read back one at a time, so the summary of a dataset larger
    # than memory keeps at most two chunks in memory.
    events = (dataset[i] for i in range(len(dataset)))
    summary = summarize_events(tqdm(events, total=len(dataset), desc="summarize", unit="event", disable=not progress))
    sys.stdout.write(f"{len(dataset)} events in {dataset.processed_dir}\n{format_summary(summary)}\n")
    return 0


def _model_info(cfg: DictConfig) -> int:
    from fm4npp_geo.nn.info import format_model_info

    sys.stdout.write(format_model_info(OmegaConf.to_container(cfg.model, resolve=True)) + "\n")
    return 0


def _pretrain(cfg: DictConfig) -> int:
    from fm4npp_geo.training.pretrain_run import check_pretrain_config, run_pretraining

    try:
        check_pretrain_config(cfg)
    except ValueError as error:
        sys.stderr.write(f"fm4npp-geo pretrain: invalid configuration: {error}\n")
        return 2
    summary = run_pretraining(cfg)
    if int(os.environ.get("RANK", "0")) == 0:
        sys.stdout.write(
            f"{summary['steps']} steps on {summary['num_events']} events, loss {summary['loss_first']:.4g} -> "
            f"{summary['loss_last']:.4g}; backbone in {summary['backbone']}\n"
        )
    return 0


def _finetune(cfg: DictConfig) -> int:
    from fm4npp_geo.training.finetune_run import run_finetune

    try:
        result = run_finetune(cfg)
    except (ValueError, FileNotFoundError) as error:
        sys.stderr.write(f"fm4npp-geo finetune: {error}\n")
        return 2
    test = result["test"]
    shown = {key: test[key] for key in ("ari", "efficiency", "purity", "accuracy", "macro_precision", "macro_recall")
             if key in test}
    scores = ", ".join(f"{key} {value:.3f}" for key, value in shown.items())
    sys.stdout.write(f"test: {scores}; {result['num_parameters']:,} trained parameters; records in {cfg.out_dir}\n")
    return 0


COMMANDS: dict[str, Callable[[DictConfig], int]] = {
    "baseline": _baseline,
    "benchmark": _benchmark,
    "finetune": _finetune,
    "model-info": _model_info,
    "pretrain": _pretrain,
    "simulate": _simulate,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; return the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        sys.stderr.write(USAGE)
        return 2
    if any(item in ("-h", "--help", "help") for item in argv[:2]):
        sys.stdout.write(USAGE)
        return 0
    command, overrides = argv[0], argv[1:]
    if command not in COMMANDS:
        sys.stderr.write(f"fm4npp-geo: unknown command {command!r}; choose one of {sorted(COMMANDS)}\n")
        return 2
    show_config = "--cfg" in overrides
    overrides = [item for item in overrides if item != "--cfg"]

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    # The typed schema of each command is composed first and its YAML files
    # on top, so unknown keys and wrong types fail here with the key's path.
    register_schemas()
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose(config_name=schema_name(command), overrides=overrides)
    except (HydraException, FileNotFoundError) as error:
        message = describe_composition_error(error, overrides, command)
        sys.stderr.write(f"fm4npp-geo {command}: invalid configuration: {message}\n")
        return 2
    if show_config:
        sys.stdout.write(OmegaConf.to_yaml(cfg))
        return 0
    try:
        check_config(cfg, command)
    except ValueError as error:
        sys.stderr.write(f"fm4npp-geo {command}: invalid configuration: {error}\n")
        return 2
    try:
        return COMMANDS[command](cfg)
    except (InvalidEventError, FileNotFoundError) as error:
        # Bad input files and missing paths end the run with their message;
        # the traceback goes to the debug log.
        logger.debug("fm4npp-geo %s failed", command, exc_info=True)
        sys.stderr.write(f"fm4npp-geo {command}: {error}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
