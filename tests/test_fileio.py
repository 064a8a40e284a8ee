import os
import stat

import pytest

from fm4npp_geo.fileio import atomic_open
from fm4npp_geo.training import load_checkpoint, save_checkpoint


def test_atomic_open_replaces_file(tmp_path):
    path = tmp_path / "sub" / "record.json"
    with atomic_open(path, "w", encoding="utf-8") as file:
        file.write("first")
    with atomic_open(path, "w", encoding="utf-8") as file:
        file.write("second")
    assert path.read_text() == "second"
    assert os.listdir(path.parent) == ["record.json"]


def test_failed_write_keeps_old_file(tmp_path):
    path = tmp_path / "record.json"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="interrupted"):
        with atomic_open(path, "w") as file:
            file.write("partial")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["record.json"]


def test_written_file_not_owner_only(tmp_path):
    path = tmp_path / "record.json"
    old_mask = os.umask(0o022)
    try:
        with atomic_open(path, "w") as file:
            file.write("x")
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_append_mode_rejected(tmp_path):
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb'"):
        with atomic_open(tmp_path / "x", "a"):
            pass


def test_checkpoint_round_trip_and_corrupt_file(tmp_path):
    path = save_checkpoint({"step": 3}, tmp_path / "ckpt.pt")
    assert load_checkpoint(path) == {"step": 3}
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
