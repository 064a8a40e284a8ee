"""`fm4npp-geo pretrain` killed with SIGKILL after a random number of steps
and resumed ends with the same backbone as a run that was never stopped."""

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fm4npp_geo.training import load_checkpoint
from fm4npp_geo.training.checkpoint import list_checkpoints

STEPS = 30

# Particle-gun events (3 pions and about 20 noise hits each) and a one-block
# backbone keep every run to a few seconds, most of it Python start-up.
TINY = [
    "+data.simulation.source=gun",
    "+data.simulation.gun={num_particles: 3}",
    "+data.simulation.noise_rate=20.0",
    "data.num_pretrain=4",
    "data.num_train=0",
    "data.num_val=0",
    "data.num_test=0",
    "data.chunk_size=4",
    "model.n_layer=1",
    "model.d_model=16",
    "model.headdim=8",
    "model.d_state=8",
    "model.chunk_size=16",
    "pretrain.k=4",
    "pretrain.batch_size=2",
    "pretrain.max_hits=null",
    f"pretrain.steps={STEPS}",
    "checkpoint_every=1",
    "keep_checkpoints=2",
    "log_every=1",
    "fit_events=4",
    "progress=false",
]


def pretrain(tmp_path: Path, out_dir: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "fm4npp_geo.cli", "pretrain", f"out_dir={out_dir}",
               f"data.root={tmp_path / 'data'}", *TINY, *extra]
    # One thread in every run, so that all of them add up floating-point
    # numbers in the same order.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    return output


def kill_after_step(process: subprocess.Popen, folder: Path, step: int) -> int:
    """SIGKILL ``process`` once it has written the checkpoint of ``step``; return the newest step seen."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = list_checkpoints(folder)
        if found and found[-1][0] >= step:
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=60)
            return found[-1][0]
        if process.poll() is not None:
            pytest.fail(f"the run ended with code {process.returncode} before step {step}: "
                        f"{process.communicate()[0]}")
        time.sleep(0.005)
    process.kill()
    pytest.fail(f"no checkpoint of step {step} within 120 s")


def test_pretrain_killed_and_resumed(tmp_path):
    reference, interrupted = tmp_path / "reference", tmp_path / "interrupted"
    finish(pretrain(tmp_path, reference))

    kill_step = random.Random().randint(2, STEPS // 2)
    process = pretrain(tmp_path, interrupted)
    seen = kill_after_step(process, interrupted / "checkpoints", kill_step)
    assert process.returncode == -signal.SIGKILL
    assert seen < STEPS, "the run finished before the kill"
    assert not (interrupted / "backbone.pt").exists()
    # Every checkpoint left behind is whole, whatever the moment of the kill.
    left = list_checkpoints(interrupted / "checkpoints")
    assert left, f"no checkpoint after the kill at step {seen}"
    for step, path in left:
        assert load_checkpoint(path)["step"] == step

    output = finish(pretrain(tmp_path, interrupted, "resume=true"))
    assert f"{STEPS} steps on 4 events" in output
    # A checkpoint cut off by the kill is deleted on resume.
    assert not list((interrupted / "checkpoints").glob(".*.tmp"))

    expected = load_checkpoint(reference / "backbone.pt")["state_dict"]
    resumed = load_checkpoint(interrupted / "backbone.pt")["state_dict"]
    assert expected.keys() == resumed.keys()
    for name, value in expected.items():
        assert torch.equal(value, resumed[name]), f"{name} differs after a kill at step {seen}"
    with (interrupted / "metrics.csv").open(newline="") as file:
        steps = [int(row["step"]) for row in csv.DictReader(file)]
    assert steps == list(range(1, STEPS + 1)), f"kill at step {seen}"
