import json
from pathlib import Path

import pytest

from fm4npp_geo.cli import main

pytest.importorskip("pythia8mc")

TINY = [
    "data.num_pretrain=4",
    "data.num_train=4",
    "data.num_val=2",
    "data.num_test=3",
    "model.n_layer=1",
    "model.d_model=32",
    "model.headdim=16",
    "pretrain.steps=3",
    "pretrain.batch_size=2",
    "pretrain.k=4",
    "trackers.fm4npp.steps=3",
    "trackers.fm4npp.batch_size=2",
    "trackers.fm4npp.num_queries=8",
    "trackers.scratch.steps=3",
    "classifiers.fm4npp_pid.steps=2",
    "classifiers.fm4npp_pid.batch_size=2",
    "classifiers.gnn_pid.epochs=1",
    "classifiers.gnn_noise.epochs=1",
    "progress=false",
]
EXATRKX_TINY = [
    "trackers.exatrkx.metric_learning_epochs=1",
    "trackers.exatrkx.gnn_epochs=1",
    "trackers.exatrkx.embedding_hidden=32",
    "trackers.exatrkx.gnn_hidden=16",
    "trackers.exatrkx.gnn_iterations=2",
]


def test_benchmark_tiny_end_to_end(tmp_path, capsys):
    out_dir = tmp_path / "run"
    code = main(
        ["benchmark", f"out_dir={out_dir}", f"data.root={tmp_path / 'data'}", "seeds=[0,1]", *TINY, *EXATRKX_TINY]
    )
    assert code == 0

    record = json.loads((out_dir / "benchmark.json").read_text())
    assert record["schema_version"] == 2
    trackers = {"fm4npp", "adapter_only", "scratch", "exatrkx"}
    classifiers = {f"{model}_{task}" for model in ("fm4npp", "adapter_only", "gnn") for task in ("pid", "noise")}
    assert set(record["models"]) == trackers | classifiers
    for name in classifiers:
        assert isinstance(record["models"][name]["mean"]["accuracy"], float), name
    for name, result in record["models"].items():
        if name in classifiers:
            continue
        for key in ("ari", "efficiency", "purity", "dm_efficiency", "trackml_score", "train_seconds",
                    "inference_ms_per_event"):
            assert isinstance(result["mean"][key], float), (name, key)
        assert result["num_test_events"] == 3
        assert [run["seed"] for run in result["per_seed"]] == [0, 1]
    assert record["data"]["events"] == 13
    assert record["data"]["mean_hits_per_event"] > 0
    assert (out_dir / "report.md").read_text().startswith("# fm4npp-geo benchmark")
    assert (out_dir / "efficiency.png").stat().st_size > 0
    assert (out_dir / "event_display.png").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "| fm4npp | " in printed
    assert " ± " in printed
    assert "| adapter_only |" in printed
    assert "| exatrkx |" in printed


def test_unknown_command(capsys):
    assert main(["fly"]) == 2
    assert "unknown command 'fly'" in capsys.readouterr().err


def test_config_typo_reported(capsys):
    assert main(["benchmark", "data.num_tset=3", "--cfg"]) == 2
    error = capsys.readouterr().err
    assert "invalid configuration: Could not override 'data.num_tset'" in error
    assert "does not exist in the config" in error


@pytest.mark.parametrize(
    "override,message",
    [
        ("data.num_test=abc", "data.num_test must be a whole number >= 1, got 'abc'"),
        ("data.num_test=0", "data.num_test must be a whole number >= 1, got 0"),
        ("data.num_val=-1", "data.num_val must be a whole number >= 0, got -1"),
        ("data.num_train=2.5", "data.num_train must be a whole number >= 1, got 2.5"),
    ],
)
def test_bad_split_size_rejected(tmp_path, capsys, override, message):
    assert main(["benchmark", f"out_dir={tmp_path}", override]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "benchmark.json").exists()


def test_no_command_is_usage_error(capsys):
    assert main([]) == 2
    assert "usage: fm4npp-geo" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["benchmark", "--help"]])
def test_help(capsys, argv):
    assert main(argv) == 0
    assert "usage: fm4npp-geo" in capsys.readouterr().out


SIMULATE_TINY = ["num_events=3", "data.chunk_size=2", "progress=false"]


def test_simulate_prints_summary(tmp_path, capsys):
    root = tmp_path / "data"
    assert main(["simulate", f"data.root={root}", *SIMULATE_TINY]) == 0
    printed = capsys.readouterr().out

    lines = printed.splitlines()
    assert lines[0].startswith(f"3 events in {root}")
    assert lines[1] == "events:            3"
    for label in ("hits/event:", "tracks/event:", "noise fraction:", "PID mix of hits:", "hit radius:"):
        assert any(line.startswith(label) for line in lines), label
    assert "layers populated:" in lines[-1]
    folder = lines[0].split(" in ", 1)[1]
    chunks = sorted(path for path in Path(folder).iterdir() if path.name.startswith("chunk"))
    assert [path.name for path in chunks] == ["chunk_0_1.pt", "chunk_2_2.pt"]

    assert main(["simulate", f"data.root={root}", *SIMULATE_TINY]) == 0
    assert capsys.readouterr().out == printed


def test_simulate_passes_simulation_overrides(tmp_path, capsys):
    root = tmp_path / "data"
    overrides = [f"data.root={root}", "num_events=1", "progress=false"]
    assert main(["simulate", *overrides]) == 0
    default_folder = capsys.readouterr().out.splitlines()[0].split(" in ", 1)[1]
    assert main(["simulate", *overrides, "+data.simulation.noise_rate=0.0"]) == 0
    quiet_folder = capsys.readouterr().out.splitlines()[0].split(" in ", 1)[1]

    assert quiet_folder != default_folder


@pytest.mark.parametrize(
    "override,message",
    [
        ("+data.simulation.noise_rate=-1", "non-negative 'noise_rate', got -1"),
        ("+data.simulation.noise_rat=1", "Unknown simulation settings ['noise_rat']"),
        ("num_events=0", "num_events must be a whole number >= 1, got 0"),
        ("data.chunk_size=0", "data.chunk_size must be a whole number >= 1, got 0"),
        ("data.num_workers=-1", "data.num_workers must be a whole number >= 0, got -1"),
    ],
)
def test_simulate_rejects_bad_config(tmp_path, capsys, override, message):
    assert main(["simulate", f"data.root={tmp_path}", override]) == 2
    error = capsys.readouterr().err
    assert error.startswith("fm4npp-geo simulate: invalid configuration:")
    assert message in error
    assert not (tmp_path / "processed").exists()
