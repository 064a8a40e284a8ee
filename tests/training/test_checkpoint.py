import logging
import os
import pickle
import re
import runpy
from pathlib import Path

import pytest
import torch

from fm4npp_geo.training import load_checkpoint, save_checkpoint
from fm4npp_geo.training.checkpoint import checkpoint_path, list_checkpoints, prune_checkpoints

workers = runpy.run_path(str(Path(__file__).with_name("_workers.py")))


class Opaque:
    """A class that only full unpickling can rebuild."""


def test_round_trip(tmp_path):
    payload = {"step": 3, "weights": torch.arange(4.0), "names": ["a", "b"], "betas": (0.9, 0.95)}
    loaded = load_checkpoint(save_checkpoint(payload, tmp_path / "ckpt.pt"))
    assert loaded["step"] == 3
    assert torch.equal(loaded["weights"], torch.arange(4.0))
    assert loaded["betas"] == (0.9, 0.95)


def test_truncated_file_rejected(tmp_path):
    path = save_checkpoint({"weights": torch.zeros(100)}, tmp_path / "ckpt.pt")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="is corrupt or truncated"):
        load_checkpoint(path)


def test_arbitrary_unpickling_rejected(tmp_path):
    path = tmp_path / "unsafe.pt"
    torch.save({"object": Opaque()}, path)
    with pytest.raises(ValueError, match="need arbitrary unpickling, which is not allowed"):
        load_checkpoint(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_failed_write_keeps_previous(tmp_path):
    path = save_checkpoint({"step": 1}, tmp_path / "ckpt.pt")
    with pytest.raises((AttributeError, pickle.PicklingError), match="pickle"):
        # A lambda cannot be pickled, so torch.save fails halfway through.
        save_checkpoint({"step": 2, "fn": lambda: None}, path)
    assert load_checkpoint(path) == {"step": 1}
    assert os.listdir(tmp_path) == ["ckpt.pt"]


def test_list_and_prune(tmp_path):
    for step in (2, 10, 4):
        save_checkpoint({"step": step}, checkpoint_path(tmp_path, step))
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    assert [step for step, _ in list_checkpoints(tmp_path)] == [2, 4, 10]
    prune_checkpoints(tmp_path, keep=2)
    assert [step for step, _ in list_checkpoints(tmp_path)] == [4, 10]
    assert (tmp_path / "notes.txt").exists()


def test_resume_skips_corrupt_checkpoint(tmp_path, caplog):
    workers["train"](str(tmp_path), steps=4, every=2)
    found = list_checkpoints(tmp_path / "checkpoints")
    assert [step for step, _ in found] == [2, 4]
    newest = found[-1][1]
    newest.write_bytes(newest.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        _, summary = workers["train"](str(tmp_path), steps=6, every=2, resume=True)
    # The damaged step-4 file is named, and the run continues from step 2.
    assert re.search(r"cannot resume from .*step_00000004\.pt .*corrupt or truncated", caplog.text)
    assert summary["steps"] == 6
    assert load_checkpoint(list_checkpoints(tmp_path / "checkpoints")[-1][1])["step"] == 6


def test_resume_with_only_corrupt_checkpoints(tmp_path):
    workers["train"](str(tmp_path), steps=2, every=2)
    (path,) = [path for _, path in list_checkpoints(tmp_path / "checkpoints")]
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"none of the checkpoints .* can be read .*step_00000002\.pt.*delete them"):
        workers["train"](str(tmp_path), steps=4, every=2, resume=True)
