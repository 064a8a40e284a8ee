"""Typed schemas of the command-line configs, registered in hydra's ConfigStore.

Each command's schema is a primary config named ``schema_<command>``. Its
defaults list merges the schema first and the YAML tree of ``configs/`` on
top, so hydra rejects an unknown key or a value of the wrong type while it
composes, and names the key's path. The YAML files keep the values; the
schemas give the types and the defaults of keys the YAML files may leave out.

Sections that list models built from a ``_target_`` (``trackers``,
``classifiers``, ``task``, ``baselines``) are free-form here, and
:mod:`fm4npp_geo.config_checks` checks their keys against the target's
arguments instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class DataConfig:
    """The ``data`` group: where events come from and how they are split."""

    root: str | None = MISSING
    seed: int = 0
    num_pretrain: int = 0
    num_train: int = 0
    num_val: int = 0
    num_test: int = 0
    chunk_size: int = 1000
    num_workers: int = 1
    # Overrides of fm4npp_geo.data.SimulationConfig fields; their names are
    # checked by SimulationConfig.from_dict.
    simulation: dict[str, Any] = field(default_factory=dict)
    source: str = "tpc_sim"
    noise_pt_threshold: float = 0.06


@dataclass
class ModelConfig:
    """The ``model`` group: the arguments of :class:`~fm4npp_geo.nn.FM4NPPBackbone`."""

    d_model: int = MISSING
    n_layer: int = MISSING
    d_state: int = 16
    ngroups: int = 1
    headdim: int = 64
    expand: int = 2
    d_conv: int = 4
    chunk_size: int = 256
    dropout: float = 0.0
    bidirectional: bool = False
    scan: str = "auto"
    in_features: int = 4
    num_frequencies: int = 10
    learnable_embedding: bool = False


@dataclass
class KNNNConfig:
    """The ``pretrain`` group: the k-NNN objective and its optimization."""

    k: int = MISSING
    strict_radius: bool = False
    steps: int = MISSING
    batch_size: int | None = None
    max_hits: int | None = None
    lr: float = MISSING
    weight_decay: float = 0.1
    warmup_fraction: float = 0.05
    grad_clip: float = 1.0
    hit_count_bins: list[int] | None = None
    bin_weights: list[float] | None = None


@dataclass
class SerializationConfig:
    """The benchmark's ``serialization``: bins of the hierarchical raster scan."""

    group_edges: list[float] = MISSING
    r_bins_per_group: int = 2
    phi_bins: int = 8
    eta_bins: int = 8
    axis_order: list[str] = field(default_factory=lambda: ["r", "phi", "eta"])


@dataclass
class ReconstructableConfig:
    """The benchmark's ``metrics.reconstructable``: particles in efficiency denominators."""

    min_hits: int = 3
    min_layers: int = 0
    min_pt: float = 0.0
    max_abs_eta: float | None = None
    primary_only: bool = False


@dataclass
class MetricsConfig:
    """The benchmark's ``metrics``: arguments of :class:`~fm4npp_geo.metrics.TrackingEvaluator`."""

    min_truth_hits: int = 3
    min_track_hits: int = 4
    matching_fraction: float = 0.5
    majority_min_track_hits: int = 3
    reconstructable: ReconstructableConfig = field(default_factory=ReconstructableConfig)


def _defaults(command: str) -> Any:
    # The schema first, then the command's YAML file and its groups on top.
    return field(default_factory=lambda: ["_self_", command])


@dataclass
class SimulateCommand:
    """The schema of `fm4npp-geo simulate`: events to simulate and summarize."""

    defaults: list[Any] = _defaults("simulate")
    data: DataConfig = field(default_factory=DataConfig)
    num_events: int = MISSING
    progress: bool = True


@dataclass
class ModelInfoCommand:
    """The schema of `fm4npp-geo model-info`: the backbone to count parameters of."""

    defaults: list[Any] = _defaults("model-info")
    model: ModelConfig = field(default_factory=ModelConfig)


@dataclass
class PretrainCommand:
    """The schema of `fm4npp-geo pretrain`: k-NNN pretraining with checkpoints and resume."""

    defaults: list[Any] = _defaults("pretrain")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: KNNNConfig = field(default_factory=KNNNConfig)
    out_dir: str = MISSING
    seed: int = 0
    resume: bool = False
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    log_every: int = 10
    precision: str = "auto"
    num_workers: int = 0
    fit_events: int = 1000
    max_event_hits: int | None = None
    progress: bool = True


@dataclass
class FinetuneCommand:
    """The schema of `fm4npp-geo finetune`: one task adapter on a backbone."""

    defaults: list[Any] = _defaults("finetune")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    task: dict[str, Any] = MISSING
    pretrained: str | None = None
    finetune: bool = False
    out_dir: str = MISSING
    seed: int = 0
    progress: bool = True


@dataclass
class BenchmarkCommand:
    """The schema of `fm4npp-geo benchmark`: every tracker and classifier on the same events."""

    defaults: list[Any] = _defaults("benchmark")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: KNNNConfig = field(default_factory=KNNNConfig)
    trackers: dict[str, Any] = field(default_factory=dict)
    classifiers: dict[str, Any] = field(default_factory=dict)
    out_dir: str = MISSING
    seed: int = 0
    seeds: list[int] | None = None
    progress: bool = True
    serialization: SerializationConfig = field(default_factory=SerializationConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)


@dataclass
class BaselineCommand:
    """The schema of `fm4npp-geo baseline`: one baseline trained and scored alone."""

    defaults: list[Any] = _defaults("baseline")
    data: DataConfig = field(default_factory=DataConfig)
    baselines: dict[str, Any] = field(default_factory=dict)
    name: str = MISSING
    out_dir: str = MISSING
    trackml_dir: str | None = None
    seed: int = 0
    progress: bool = True


#: The schema of every command.
SCHEMAS: dict[str, type] = {
    "baseline": BaselineCommand,
    "benchmark": BenchmarkCommand,
    "finetune": FinetuneCommand,
    "model-info": ModelInfoCommand,
    "pretrain": PretrainCommand,
    "simulate": SimulateCommand,
}


def schema_name(command: str) -> str:
    """Return the ConfigStore name of the primary config of ``command``."""
    return f"schema_{command}"


def register_schemas() -> None:
    """Store every command's schema in hydra's ConfigStore; storing it again replaces it."""
    store = ConfigStore.instance()
    for command, schema in SCHEMAS.items():
        store.store(name=schema_name(command), node=schema)
