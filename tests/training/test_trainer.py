import csv
import logging
import math
import os
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn
from torch_geometric.data import Data

from fm4npp_geo.training import Trainer, TrainerConfig
from fm4npp_geo.training.checkpoint import checkpoint_path, list_checkpoints
from fm4npp_geo.training.distributed import DistributedContext

WORKER = Path(__file__).with_name("_workers.py")
workers = runpy.run_path(str(WORKER))


@pytest.fixture
def one_thread():
    # The subprocess runs with one thread too, so both compute the same bits.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def worker_env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    return env


def assert_same_weights(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), name


def test_training_lowers_loss():
    _, summary = workers["train"](None, steps=40)
    assert summary["steps"] == 40
    assert summary["skipped_steps"] == 0
    assert summary["loss_last"] < summary["loss_first"]


def test_metrics_csv(tmp_path):
    workers["train"](str(tmp_path), steps=5)
    with (tmp_path / "metrics.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [int(row["step"]) for row in rows] == [1, 2, 3, 4, 5]
    assert all(math.isfinite(float(row["loss"])) for row in rows)
    assert all(int(row["hits"]) > 0 for row in rows)
    assert all(0 < float(row["lr"]) <= 3e-3 for row in rows)


def test_resume_in_process_equals_uninterrupted(tmp_path, one_thread):
    reference, _ = workers["train"](None, steps=7)
    with pytest.raises(workers["Interrupted"], match="stopped after step 5"):
        workers["train"](str(tmp_path), steps=7, every=2, stop_at=5)
    resumed, summary = workers["train"](str(tmp_path), steps=7, every=2, resume=True)
    assert summary["steps"] == 7
    assert_same_weights(resumed, reference)
    with (tmp_path / "metrics.csv").open() as file:
        assert [int(row["step"]) for row in csv.DictReader(file)] == list(range(1, 8))


def test_kill_and_resume_bit_identical(tmp_path, one_thread):
    steps, every = 12, 2
    process = subprocess.Popen(
        [sys.executable, str(WORKER), "resume", str(tmp_path), str(steps), str(every), "0.25"], env=worker_env()
    )
    target = checkpoint_path(tmp_path / "checkpoints", 4)
    deadline = time.monotonic() + 60
    while not target.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    assert target.exists()
    assert not (tmp_path / "final.pt").exists()
    killed_at = list_checkpoints(tmp_path / "checkpoints")[-1][0]
    assert killed_at < steps

    resumed, summary = workers["train"](str(tmp_path), steps, every, resume=True)
    reference, _ = workers["train"](None, steps)
    assert summary["steps"] == steps
    assert_same_weights(resumed, reference)


def test_data_parallel_matches_single_process(tmp_path, one_thread):
    steps = 3
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        str(WORKER), "ddp", str(tmp_path), str(steps),
    ]
    result = subprocess.run(command, env=worker_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    ddp = torch.load(tmp_path / "ddp.pt", weights_only=True)
    assert ddp["world_size"] == 2
    # One process with the whole global batch of 4 events; each of the two
    # processes trained on 2 of them.
    single, summary = workers["train"](None, steps, max_events=4)
    assert ddp["weights"].keys() == single.keys()
    for name, value in single.items():
        assert torch.allclose(ddp["weights"][name], value, rtol=1e-5, atol=1e-6), name
    assert ddp["loss_last"] == pytest.approx(summary["loss_last"], rel=1e-5)


class Quadratic(nn.Module):
    """Loss (w - 3)^2, or NaN on the steps listed in ``bad_steps``."""

    def __init__(self, bad_steps: set[int]):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(()))
        self.bad_steps = bad_steps
        self.calls = 0

    def forward(self, batch):
        self.calls += 1
        loss = (self.weight - 3.0) ** 2
        return loss * math.nan if self.calls in self.bad_steps else loss


def quadratic_trainer(model, steps, **config):
    events = [Data(x=torch.zeros(n, 4)) for n in (3, 4, 5, 6)]
    return Trainer(
        model,
        events,
        [event.num_nodes for event in events],
        TrainerConfig(steps=steps, lr=0.1, weight_decay=0.0, max_events=2, **config),
        context=DistributedContext(),
    )


def test_non_finite_loss_skips_step(caplog):
    model = Quadratic(bad_steps={2})
    with caplog.at_level(logging.WARNING, logger="fm4npp_geo.training.trainer"):
        summary = quadratic_trainer(model, steps=4).fit()
    assert summary["skipped_steps"] == 1
    assert math.isfinite(model.weight.item())
    assert "non-finite loss at step 1, step skipped" in caplog.text


def test_resume_needs_checkpoint_dir():
    with pytest.raises(ValueError, match="resume=True needs a checkpoint_dir"):
        TrainerConfig(resume=True)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainerConfig(precision="fp16")
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        TrainerConfig(steps=0)
