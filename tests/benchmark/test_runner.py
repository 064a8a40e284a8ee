import json

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from fm4npp_geo.benchmark import run_benchmark, validate_record
from fm4npp_geo.benchmark.data import data_source, load_events, split_events
from fm4npp_geo.cli import config_dir
from fm4npp_geo.data import write_trackml_event
from fm4npp_geo.metrics import trackml_weights

TINY = [
    "model.n_layer=1",
    "model.d_model=32",
    "model.headdim=16",
    "pretrain.steps=2",
    "pretrain.batch_size=2",
    "pretrain.k=4",
    "progress=false",
]


def compose_benchmark(overrides: list[str]):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="benchmark", overrides=overrides)


def write_events(events, folder):
    folder.mkdir()
    for index, event in enumerate(events):
        event = event.clone()
        radius = torch.linalg.norm(event.pos, dim=1)
        event.weight = torch.from_numpy(trackml_weights(event.particle_id, event.particle_pt, radius)).float()
        write_trackml_event(event, folder / f"event{index:09d}")


def test_trackml_source_two_seeds_end_to_end(tmp_path, toy_models, toy_events):
    write_events(toy_events[:9], tmp_path / "trackml")
    cfg = compose_benchmark(
        [
            "benchmark=trackml",
            f"data.root={tmp_path / 'trackml'}",
            f"out_dir={tmp_path / 'run'}",
            "data.num_pretrain=2",
            "data.num_train=3",
            "data.num_val=1",
            "data.num_test=3",
            "seeds=[0,1]",
            "serialization.group_edges=[40.0,57.0]",
            *TINY,
        ]
    )
    with open_dict(cfg):
        cfg.trackers = OmegaConf.create({"truth": {"_target_": f"{toy_models}.TruthTracker", "seed": "${seed}"}})
        cfg.classifiers = OmegaConf.create({"noise": {"_target_": f"{toy_models}.NoiseTagger", "seed": "${seed}"}})
    record = run_benchmark(cfg)

    out_dir = tmp_path / "run"
    written = json.loads((out_dir / "benchmark.json").read_text())
    validate_record(written)
    assert written["data"]["source"] == "trackml"
    assert written["data"]["events"] == 9
    assert written["seeds"] == [0, 1]
    assert set(written["models"]) == {"truth", "noise"}
    truth = written["models"]["truth"]
    assert len(truth["per_seed"]) == 2
    # The truth files carry the weights, so the TrackML score is defined.
    assert 0.0 < truth["mean"]["trackml_score"] <= 1.0
    assert truth["mean"]["ari"] == pytest.approx(record["models"]["truth"]["mean"]["ari"])
    for name in ("efficiency.png", "efficiency_double_majority.png", "ari_histogram.png",
                 "confusion_matrices.png", "cost.png", "event_display.png"):
        assert (out_dir / name).stat().st_size > 0, name
        assert name in written["figures"]
    report = (out_dir / "report.md").read_text()
    assert "| truth | " in report
    assert "| noise | noise_label | " in report
    assert "±" in report


def test_trackml_source_needs_root():
    cfg = compose_benchmark(["benchmark=trackml"])
    with pytest.raises(ValueError, match="data.root must name a folder of TrackML events"):
        data_source(cfg.data)


def test_unknown_source_rejected():
    cfg = compose_benchmark(["+data.source=hdf5"])
    with pytest.raises(ValueError, match="data.source must be one of \\['tpc_sim', 'trackml'\\], got 'hdf5'"):
        data_source(cfg.data)


def test_trackml_folder_too_small(tmp_path, toy_events):
    write_events(toy_events[:2], tmp_path / "few")
    cfg = compose_benchmark(["benchmark=trackml", f"data.root={tmp_path / 'few'}"])
    with pytest.raises(ValueError, match="the splits need 5 events but the TrackML folder"):
        load_events(cfg.data, 5, progress=False)


def test_split_events_disjoint(toy_events):
    splits = split_events(toy_events[:6], {"pretrain": 1, "train": 2, "val": 0, "test": 3})
    assert [len(split) for split in splits.values()] == [1, 2, 0, 3]
    assert splits["test"][0] is toy_events[3]
    with pytest.raises(ValueError, match="splits need 7 events but only 6"):
        split_events(toy_events[:6], {"train": 7})


def test_default_group_is_cpu_small():
    cfg = compose_benchmark([])
    assert list(cfg.seeds) == [0]
    assert (cfg.data.num_pretrain, cfg.data.num_train, cfg.data.num_val, cfg.data.num_test) == (400, 160, 20, 100)
    assert {"fm4npp", "adapter_only", "exatrkx"} <= set(cfg.trackers)
    for name, classifier in cfg.classifiers.items():
        assert classifier.target in ("pid_label", "noise_label"), name
    assert cfg.metrics.reconstructable.max_abs_eta is None


def test_gpu_paper_group():
    cfg = compose_benchmark(["benchmark=gpu_paper"])
    assert cfg.model.d_model == 256
    assert cfg.model.n_layer == 12
    assert len(cfg.seeds) == 10
    assert (cfg.data.num_pretrain, cfg.data.num_train, cfg.data.num_val, cfg.data.num_test) == (
        10_000_000, 70_000, 13_000, 7_000
    )
    assert compose_benchmark(["benchmark=gpu_paper", "model=m6"]).model.d_model == 1536
