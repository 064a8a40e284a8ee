import csv

import pytest
import torch

from fm4npp_geo.cli import main
from fm4npp_geo.training import load_backbone, load_checkpoint
from fm4npp_geo.training.checkpoint import list_checkpoints
from fm4npp_geo.transforms import HierarchicalRasterScan

TINY = [
    "data.num_pretrain=4",
    "data.num_train=0",
    "data.num_val=0",
    "data.num_test=0",
    "data.chunk_size=4",
    "model.n_layer=1",
    "model.d_model=16",
    "model.headdim=8",
    "model.chunk_size=64",
    "pretrain.k=4",
    "pretrain.batch_size=2",
    "pretrain.max_hits=null",
    "checkpoint_every=2",
    "log_every=1",
    "progress=false",
]


@pytest.mark.sim
def test_pretrain_command_and_resume(tmp_path, capsys):
    pytest.importorskip("pythia8mc")
    out_dir = tmp_path / "run"
    common = [f"out_dir={out_dir}", f"data.root={tmp_path / 'data'}", *TINY]
    assert main(["pretrain", *common, "pretrain.steps=3"]) == 0
    assert "3 steps on 4 events" in capsys.readouterr().out
    assert [step for step, _ in list_checkpoints(out_dir / "checkpoints")] == [2, 3]
    scan = HierarchicalRasterScan.load(out_dir / "serialization.json")
    assert scan.num_boxes == 6 * 8 * 8

    # Three more steps continue from the checkpoint of step 3.
    assert main(["pretrain", *common, "pretrain.steps=6", "resume=true"]) == 0
    assert load_checkpoint(list_checkpoints(out_dir / "checkpoints")[-1][1])["step"] == 6
    with (out_dir / "metrics.csv").open() as file:
        assert [int(row["step"]) for row in csv.DictReader(file)] == [1, 2, 3, 4, 5, 6]
    backbone = load_backbone(out_dir / "backbone.pt")
    assert backbone.d_model == 16
    extra = load_checkpoint(out_dir / "backbone.pt")["extra"]
    assert extra["serialization"] == scan.to_dict()
    assert torch.isfinite(torch.tensor(extra["pretrain"]["loss_last"]))


def test_pretrain_rejects_bad_sizes(tmp_path, capsys):
    code = main(["pretrain", f"out_dir={tmp_path}", "data.num_pretrain=0"])
    assert code == 2
    assert "data.num_pretrain must be a whole number >= 1, got 0" in capsys.readouterr().err
    code = main(["pretrain", f"out_dir={tmp_path}", "pretrain.batch_size=null", "pretrain.max_hits=null"])
    assert code == 2
    assert "set pretrain.batch_size, pretrain.max_hits or both" in capsys.readouterr().err
