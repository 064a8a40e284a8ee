"""validate_event on events that break the event schema in one attribute each."""

import logging
import runpy
from pathlib import Path

import pytest
import torch

from fm4npp_geo.data import DetectorVolume, InvalidEventError, TPCGeometry, validate_event

helpers = runpy.run_path(str(Path(__file__).with_name("_helpers.py")))
Case, tpc_event = helpers["Case"], helpers["tpc_event"]

TPC = DetectorVolume.from_geometry(TPCGeometry())
FLOAT_FIELDS = ("pos", "energy", "x", "particle_pt", "particle_eta", "weight", "particle_vertex_r",
                "particle_charge")


def changed(**changes):
    """Return a function that validates tpc_event() with ``changes`` applied to it."""

    def run(tmp_path):
        event = tpc_event()
        for key, change in changes.items():
            if change is None:
                del event[key]
            else:
                event[key] = change(event[key])
        return validate_event(event, "run/events.pt", 3, TPC, num_layers=48)

    return run


def set_hit(value, hit=1):
    def change(tensor):
        tensor = tensor.clone()
        tensor[hit] = value
        return tensor

    return change


CASES = [
    *(Case(f"nan_in_{key}", changed(**{key: set_hit(float("nan"))}), InvalidEventError,
           rf"^Event 3 of 'run/events.pt': '{key}' contains nan at hit 1; expected finite values$")
      for key in FLOAT_FIELDS),
    *(Case(f"inf_in_{key}", changed(**{key: set_hit(-float("inf"), hit=4)}), InvalidEventError,
           rf"'{key}' contains -inf at hit 4; expected finite values")
      for key in FLOAT_FIELDS),
    *(Case(f"missing_{key}", changed(**{key: None}), InvalidEventError,
           rf"'{key}' is missing; expected the attributes \['pos', 'energy', 'layer'\]")
      for key in ("pos", "energy", "layer")),
    Case("layer_as_float", changed(layer=lambda layer: layer.float()), InvalidEventError,
         r"'layer' has dtype torch.float32; expected an integer dtype \(torch.long\)"),
    Case("noise_label_as_long", changed(noise_label=lambda label: label.long()), InvalidEventError,
         r"'noise_label' has dtype torch.int64; expected torch.bool"),
    Case("particle_id_as_float", changed(particle_id=lambda pid: pid.float()), InvalidEventError,
         r"'particle_id' has dtype torch.float32"),
    Case("pos_with_two_columns", changed(pos=lambda pos: pos[:, :2]), InvalidEventError,
         r"'pos' has shape \[6, 2\]; expected \[num_hits, 3\]"),
    Case("particle_id_too_short", changed(particle_id=lambda pid: pid[:-1]), InvalidEventError,
         r"'particle_id' has shape \[5\]; expected \[num_hits\] with num_hits = 6"),
    Case("pid_label_out_of_range", changed(pid_label=set_hit(7, hit=2)), InvalidEventError,
         r"'pid_label' contains 7 at hit 2; expected a PID class in \[0, 4\]"),
    Case("negative_particle_id", changed(particle_id=set_hit(-3)), InvalidEventError,
         r"'particle_id' contains -3 at hit 1; expected a particle id >= 0, with 0 for noise"),
    Case("layer_beyond_detector", changed(layer=set_hit(48, hit=5)), InvalidEventError,
         r"'layer' contains 48 at hit 5; expected a layer index in \[0, 48\)"),
    Case("negative_pt", changed(particle_pt=set_hit(-0.5)), InvalidEventError,
         r"'particle_pt' contains -0.5 at hit 1; expected values >= 0"),
    Case("order_repeats_hit", changed(order=set_hit(0)), InvalidEventError,
         r"'order' lists hit 0 2 times; expected a permutation"),
    Case("order_out_of_range", changed(order=set_hit(6)), InvalidEventError,
         r"'order' contains 6 at hit 1; expected hit indices in \[0, 6\)"),
    Case("edge_to_missing_hit", changed(edge_index=set_hit(torch.tensor([2, 9]))), InvalidEventError,
         r"'edge_index' contains the edge \[1, 9\] \(edge 1\); expected hit indices in \[0, 6\)"),
    Case("edge_y_too_long", changed(edge_y=lambda edge_y: torch.cat([edge_y, edge_y])), InvalidEventError,
         r"'edge_y' has shape \[4\]; expected one entry per edge, \[2\]"),
    Case("positions_in_mm", changed(pos=lambda pos: 10 * pos), InvalidEventError,
         r"'pos' puts hit 0 at r = 320 cm, z = -500 cm, outside the detector volume "
         r"\(31\.1226 <= r <= 75\.9935 cm, \|z\| <= 105 cm, tolerance 1 cm\), as do 5 more hit\(s\); "
         r"expected positions in cm inside the detector; check the units"),
    Case("valid_event_unchanged", changed(), check=lambda event: torch.equal(event.pos, tpc_event().pos)),
]


@pytest.mark.parametrize("case", helpers["params"](CASES))
def test_bad_event_field(case, tmp_path):
    helpers["run_case"](case, tmp_path)


def test_out_of_volume_hits_dropped(caplog):
    event = tpc_event()
    event.pos[2, 2] = 107.0  # 2 cm beyond the drift length
    event.pos[4, :2] *= 0.5  # r = 32 cm, inside the tolerance of the first row
    with caplog.at_level(logging.WARNING):
        kept = validate_event(event, "run/events.pt", 0, TPC, out_of_volume="drop")

    assert kept.num_nodes == 5
    assert torch.equal(kept.particle_id, torch.tensor([1, 1, 2, 2, 0]))
    assert torch.equal(kept.pos, event.pos[[0, 1, 3, 4, 5]])
    assert "order" not in kept
    assert "edge_index" not in kept
    assert "dropped 1 of 6 hits outside the detector volume" in caplog.text


def test_hit_at_tolerance_edge_kept():
    event = tpc_event()
    event.pos[0] = torch.tensor([0.0, 75.9, 105.9])
    assert validate_event(event, volume=TPC) is event
