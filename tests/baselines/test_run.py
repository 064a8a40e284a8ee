from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from baselines.exatrkx import ExaTrkXTracker
from baselines.gnn import GNNPointClassifier
from baselines.run import split_labeled_events
from fm4npp_geo.cli import main

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="baseline", overrides=list(overrides))


def test_split_labeled_events():
    splits = split_labeled_events(list(range(10)), 3, 2, 4, skip=1)
    assert splits == {"train": [1, 2, 3], "val": [4, 5], "test": [6, 7, 8, 9]}
    with pytest.raises(ValueError, match="need 11 events, but only 10"):
        split_labeled_events(list(range(10)), 3, 2, 4, skip=2)
    with pytest.raises(ValueError, match="num_train >= 1"):
        split_labeled_events(list(range(10)), 0, 2, 4)


def test_baseline_config_merges_stages():
    cfg = _compose()
    exatrkx = cfg.baselines.exatrkx
    # One key from each stage file, and the TPC settings.
    assert exatrkx.embedding_dim == 12
    assert exatrkx.filter_cut == 0.05
    assert exatrkx.gnn_iterations == 8
    assert exatrkx.track_building == "walkthrough"
    assert exatrkx.z_scale == 100.0
    trackml = cfg.baselines.exatrkx_trackml
    assert trackml.z_scale == 300.0
    assert trackml.order_rule == "distance"
    assert trackml.gnn_iterations == 8
    assert cfg.baselines.gnn_noise.target == "noise_label"
    assert cfg.baselines.gnn_pid.target == "pid_label"


def test_baseline_config_instantiates():
    cfg = _compose("baselines.exatrkx.gnn_hidden=16", "baselines.gnn_pid.conv=gat")
    tracker = instantiate(cfg.baselines.exatrkx)
    assert isinstance(tracker, ExaTrkXTracker)
    assert tracker.config.gnn_hidden == 16
    classifier = instantiate(cfg.baselines.gnn_pid)
    assert isinstance(classifier, GNNPointClassifier)
    assert classifier.model.conv == "gat"


def test_cli_baseline_unknown_name(capsys):
    assert main(["baseline", "name=hept"]) == 2
    assert "unknown name 'hept'" in capsys.readouterr().err
