"""Checks of a composed command config that run before any work starts.

Hydra and the schemas of :mod:`fm4npp_geo.config_schema` reject unknown keys
and wrong types while composing. The checks here add what a type cannot
express: minimums of counts, settings that contradict each other, and the
keyword arguments of every model built from a ``_target_``. Every message
names the key's path.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException, ValidationError

from fm4npp_geo.config_schema import SCHEMAS

#: Largest k of the k-NNN objective. The head predicts 3k numbers per hit
#: and the targets take num_hits * k * 3 floats, and FM4NPP found k = 30 the
#: best of 1, 5 and 30, so a larger k is almost surely a typo.
MAX_KNNN_K = 256

#: Smallest value of every whole-number key; keys a command lacks are skipped.
MINIMUMS: dict[str, int] = {
    "data.seed": 0,
    "data.num_pretrain": 0,
    "data.num_train": 0,
    "data.num_val": 0,
    "data.num_test": 0,
    "data.chunk_size": 1,
    "data.num_workers": 0,
    **{f"model.{name}": 1 for name in ("d_model", "n_layer", "d_state", "ngroups", "headdim", "expand",
                                       "d_conv", "chunk_size", "in_features", "num_frequencies")},
    "pretrain.k": 1,
    "pretrain.steps": 1,
    "pretrain.batch_size": 1,
    "pretrain.max_hits": 1,
    "seed": 0,
    "num_events": 1,
    "checkpoint_every": 0,
    "keep_checkpoints": 1,
    "log_every": 1,
    "num_workers": 0,
    "fit_events": 1,
    "max_event_hits": 1,
    "serialization.r_bins_per_group": 1,
    "serialization.phi_bins": 1,
    "serialization.eta_bins": 1,
    "metrics.min_truth_hits": 1,
    "metrics.min_track_hits": 1,
    "metrics.majority_min_track_hits": 1,
    "metrics.reconstructable.min_hits": 0,
    "metrics.reconstructable.min_layers": 0,
}

#: Commands that need more than the common minimums of the split sizes.
COMMAND_MINIMUMS: dict[str, dict[str, int]] = {
    "baseline": {"data.num_train": 1, "data.num_test": 1},
    "benchmark": {"data.num_train": 1, "data.num_test": 1},
    "finetune": {"data.num_train": 1, "data.num_test": 1},
    "pretrain": {"data.num_pretrain": 1},
}

#: Sections whose entries are models built from a ``_target_``.
TARGET_SECTIONS = ("trackers", "classifiers", "baselines")


def minimums(command: str) -> dict[str, int]:
    """Return the smallest value of every whole-number key of ``command``."""
    return {**MINIMUMS, **COMMAND_MINIMUMS.get(command, {})}


def _fail(message: str) -> NoReturn:
    raise ValueError(message)


def _check_whole_numbers(cfg: DictConfig, command: str) -> None:
    for key, low in minimums(command).items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            _fail(f"{key} must be a whole number >= {low}, got {value!r}")


def _check_model(model: DictConfig) -> None:
    d_inner = model.expand * model.d_model
    if d_inner % model.headdim != 0:
        _fail(f"model.headdim={model.headdim} must divide the inner width model.expand * model.d_model = "
              f"{model.expand} * {model.d_model} = {d_inner}; choose a headdim that divides {d_inner}")
    heads = d_inner // model.headdim
    if heads % model.ngroups != 0:
        _fail(f"model.ngroups={model.ngroups} must divide the {heads} Mamba2 heads "
              f"(model.expand * model.d_model / model.headdim)")
    if not 0.0 <= model.dropout < 1.0:
        _fail(f"model.dropout must be in [0, 1), got {model.dropout}")


def _check_objective(objective: DictConfig, command: str) -> None:
    if objective.k > MAX_KNNN_K:
        _fail(f"pretrain.k must be at most {MAX_KNNN_K}, got {objective.k}; FM4NPP uses k = 30")
    if objective.batch_size is None and objective.max_hits is None:
        _fail("set pretrain.batch_size, pretrain.max_hits or both to size the batches")
    if not objective.lr > 0.0:
        _fail(f"pretrain.lr must be > 0, got {objective.lr}")
    if not 0.0 <= objective.warmup_fraction <= 1.0:
        _fail(f"pretrain.warmup_fraction must be in [0, 1], got {objective.warmup_fraction}")
    if objective.weight_decay < 0.0 or objective.grad_clip < 0.0:
        _fail(f"pretrain.weight_decay and pretrain.grad_clip must be >= 0, got "
              f"{objective.weight_decay} and {objective.grad_clip}")
    bins, weights = objective.hit_count_bins, objective.bin_weights
    if (bins is None) != (weights is None):
        _fail("set pretrain.hit_count_bins and pretrain.bin_weights together, or neither")
    if bins is not None and len(weights) != len(bins) + 1:
        _fail(f"pretrain.bin_weights needs len(pretrain.hit_count_bins) + 1 = {len(bins) + 1} values, "
              f"got {len(weights)}")


def _check_simulation(cfg: DictConfig, command: str) -> None:
    from fm4npp_geo.data import SimulationConfig

    reads_files = cfg.data.source == "trackml" or bool(cfg.get("trackml_dir"))
    if command in ("simulate", "pretrain", "finetune") or not reads_files:
        SimulationConfig.from_dict(OmegaConf.to_container(cfg.data.simulation, resolve=True))


def _check_paths(cfg: DictConfig, command: str) -> None:
    # Input folders named in the config must exist before events are
    # simulated or models trained.
    if command == "finetune" and cfg.pretrained is not None:
        folder = Path(cfg.pretrained)
        missing = [name for name in ("backbone.pt", "features.json", "serialization.json")
                   if not (folder / name).is_file()]
        if missing:
            _fail(f"pretrained={folder} lacks {missing}; run `fm4npp-geo pretrain out_dir={folder}` first, "
                  f"or set pretrained=null for a random backbone")
    if command == "benchmark":
        from fm4npp_geo.benchmark.data import data_source

        if data_source(cfg.data) == "trackml" and not Path(cfg.data.root).is_dir():
            _fail(f"data.root={cfg.data.root} is not a folder; set data.root to the folder of the TrackML "
                  f"event files (event000000001-hits.csv.gz and so on)")
    if command == "baseline" and cfg.trackml_dir and not Path(cfg.trackml_dir).is_dir():
        _fail(f"trackml_dir={cfg.trackml_dir} is not a folder; set it to the folder of the TrackML event files, "
              f"or to null for simulated events")


def _accepted_arguments(target: Any) -> set[str] | None:
    """Return the keyword arguments ``target`` accepts, or None for any.

    NOTE: A class whose ``__init__`` takes ``**kwargs`` is assumed to pass them
    to its base class, whose arguments are then added, as the task adapters do.
    """
    names: set[str] = set()
    chain = target.__mro__ if isinstance(target, type) else (target,)
    for item in chain:
        if item is object:
            return None
        try:
            signature = inspect.signature(item)
        except (TypeError, ValueError):
            return None
        names.update(name for name, parameter in signature.parameters.items()
                     if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD))
        if not any(parameter.kind == parameter.VAR_KEYWORD for parameter in signature.parameters.values()):
            return names
    return None


def _check_target(node: Any, path: str) -> None:
    if not isinstance(node, DictConfig) or "_target_" not in node:
        return
    try:
        target = get_object(node._target_)
    except (ImportError, HydraException, ValueError) as error:
        reason = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
        _fail(f"{path}._target_ names {node._target_!r}, which cannot be imported: {reason}")
    accepted = _accepted_arguments(target)
    if accepted is None:
        return
    unknown = sorted(key for key in node if not str(key).startswith("_") and key not in accepted)
    if unknown:
        _fail(f"{path}.{unknown[0]} is not an argument of {node._target_}; expected one of {sorted(accepted)}")


def check_config(cfg: DictConfig, command: str) -> None:
    """Check a config composed for ``command`` before the command runs.

    Raises:
        ValueError: a key has no value or is not in the schema (keys added with
            ``+key=value`` pass hydra), a count is below its minimum, settings
            contradict each other, an input folder does not exist, or a
            ``_target_`` section has a key its target does not accept. The
            message names the key's path.
    """
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        _fail(f"{missing[0]} has no value; set it with `{missing[0]}=VALUE`")
    # A key added with '+' enters even a typed node, so the plain values are
    # merged into a fresh schema, which rejects it.
    plain = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    try:
        OmegaConf.merge(OmegaConf.structured(SCHEMAS[command]), plain)
    except OmegaConfBaseException as error:
        _fail(f"{error.full_key} is not a valid key of the {command} config: {str(error).splitlines()[0]}. "
              f"Print every key with `fm4npp-geo {command} --cfg`")

    _check_whole_numbers(cfg, command)
    if "model" in cfg:
        _check_model(cfg.model)
    if "pretrain" in cfg:
        _check_objective(cfg.pretrain, command)
    if "data" in cfg:
        _check_simulation(cfg, command)
    _check_paths(cfg, command)
    if "task" in cfg:
        _check_target(cfg.task, "task")
    for section in TARGET_SECTIONS:
        for name, node in (cfg.get(section) or {}).items():
            _check_target(node, f"{section}.{name}")


def _override_value(overrides: Sequence[str], key: str) -> Any:
    parser = OverridesParser.create()
    for override in parser.parse_overrides(list(overrides)):
        if override.key_or_group.lstrip("+~") == key:
            return override.value()
    raise KeyError(key)


def describe_composition_error(error: Exception, overrides: Sequence[str], command: str) -> str:
    """Return a one-line message naming the key of a failed composition and what is wrong with it."""
    message = str(error).splitlines()[0]
    cause = error.__cause__
    while cause is not None and not isinstance(cause, OmegaConfBaseException):
        cause = cause.__cause__
    if "Could not find" in message and "Available options" in str(error):
        # The options are the tab-indented lines up to the search path.
        listed = str(error).split("Available options", 1)[1].split("Config search path", 1)[0]
        options = [line.strip() for line in listed.splitlines() if line.startswith("\t")]
        return f"{message}; available options: {', '.join(options)}"
    if message.startswith("Could not override"):
        return (f"{message} The key does not exist in the config: check its spelling, or print every key "
                f"with `fm4npp-geo {command} --cfg`.")
    if not isinstance(cause, ValidationError) or not cause.full_key:
        return message
    key, reason = cause.full_key, str(cause).splitlines()[0]
    try:
        value = _override_value(overrides, key)
    except (KeyError, HydraException):
        return f"{key}: {reason}"
    if "Integer" in reason:
        low = minimums(command).get(key)
        bound = "" if low is None else f" >= {low}"
        return f"{key} must be a whole number{bound}, got {value!r}"
    return f"{key}: {reason}; got {value!r} from the override"
