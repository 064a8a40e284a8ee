"""Damaged, inconsistent and crafted files: TrackML CSV, TPCpp archives,
dataset chunks, checkpoints and fitted statistics."""

import gzip
import json
import os
import pathlib
import runpy
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from fm4npp_geo.data import (
    InvalidEventError,
    ParticleGun,
    SimulationConfig,
    TPCppDataset,
    TPCSimDataset,
    read_tpcpp_file,
    read_trackml_event,
    write_tpcpp,
)
from fm4npp_geo.data.chunks import load_chunk, save_chunk
from fm4npp_geo.nn import FM4NPPBackbone
from fm4npp_geo.training import load_backbone, load_checkpoint, save_backbone, save_checkpoint
from fm4npp_geo.training.checkpoint import remove_partial_checkpoints
from fm4npp_geo.transforms import HierarchicalRasterScan, HitFeatures

helpers = runpy.run_path(str(Path(__file__).with_name("_helpers.py")))
Case, tpc_event = helpers["Case"], helpers["tpc_event"]

# 1. TrackML events: three hits in barrel volume 8, the first two of one pion.

PION = "4503599627370496"
TRACKML = {
    "hits": "hit_id,x,y,z,volume_id,layer_id,module_id\n"
            "1,40.0,0.0,5.0,8,2,1\n2,0.0,70.0,-5.0,8,4,1\n3,-110.0,0.0,20.0,8,6,1\n",
    "cells": "hit_id,ch0,ch1,value\n1,0,0,0.5\n2,0,1,0.25\n3,1,1,0.75\n",
    "particles": "particle_id,particle_type,vx,vy,vz,px,py,pz,q,nhits\n"
                 f"{PION},211,0,0,0,0.3,0.4,0.1,1,2\n",
    "truth": "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n"
             f"1,{PION},0,0,0,0,0,0,0.5\n2,{PION},0,0,0,0,0,0,0.5\n3,0,0,0,0,0,0,0,0\n",
}


def trackml(kind=None, old="", new="", compress=False, drop=None, **options):
    """Return a run that writes the event with ``old`` replaced by ``new`` in one file and reads it."""

    def run(tmp_path):
        for name, text in TRACKML.items():
            if name == drop:
                continue
            if name == kind:
                assert old in text, (kind, old)
                text = text.replace(old, new, 1)
            path = tmp_path / f"event1-{name}.csv{'.gz' if compress else ''}"
            if compress:
                with gzip.open(path, "wt") as file:
                    file.write(text)
            else:
                path.write_text(text)
        if compress:
            hits = tmp_path / "event1-hits.csv.gz"
            hits.write_bytes(hits.read_bytes()[:-12])
        return read_trackml_event(tmp_path / "event1", **options)

    return run


TRACKML_CASES = [
    Case("trackml_truncated_gz", trackml(compress=True), ValueError,
         r"Failed to read TrackML file '.*event1-hits.csv.gz': .* The file is truncated or corrupt"),
    Case("trackml_missing_column", trackml("truth", "tpz,weight", "tpz,w8"), ValueError,
         r"TrackML file '.*event1-truth.csv' has no column\(s\) \['weight'\]"),
    Case("trackml_extra_columns", trackml("cells", "ch1,value\n1,0,0,0.5\n2,0,1,0.25\n3,1,1,0.75\n",
                                          "ch1,value,timestamp\n1,0,0,0.5,7\n2,0,1,0.25,8\n3,1,1,0.75,9\n"),
         check=lambda event: (event.num_nodes == 3
                              and torch.equal(event.energy, torch.tensor([0.5, 0.25, 0.75]))
                              and torch.equal(event.pos[0], torch.tensor([4.0, 0.0, 0.5])))),
    Case("trackml_x_not_a_number", trackml("hits", "1,40.0", "1,forty"), ValueError,
         r"Failed to parse column 'x' of TrackML file '.*event1-hits.csv' as float64"),
    Case("trackml_hit_id_not_integer", trackml("hits", "2,0.0,70.0", "2.5,0.0,70.0"), ValueError,
         r"Failed to parse column 'hit_id' of TrackML file '.*event1-hits.csv' as int64"),
    Case("trackml_nan_hits_x", trackml("hits", "1,40.0", "1,nan"), ValueError,
         r"Column 'x' of TrackML file '.*event1-hits.csv' contains nan in data row 1; expected finite values"),
    Case("trackml_nan_hits_y", trackml("hits", "2,0.0,70.0", "2,0.0,nan"), ValueError,
         r"Column 'y' of TrackML file '.*event1-hits.csv' contains nan in data row 2"),
    Case("trackml_inf_hits_z", trackml("hits", "20.0,8,6", "inf,8,6"), ValueError,
         r"Column 'z' of TrackML file '.*event1-hits.csv' contains inf in data row 3"),
    Case("trackml_nan_cells_value", trackml("cells", "0,1,0.25", "0,1,nan"), ValueError,
         r"Column 'value' of TrackML file '.*event1-cells.csv' contains nan in data row 2"),
    Case("trackml_nan_truth_weight", trackml("truth", "0,0,0.5\n2", "0,0,nan\n2"), ValueError,
         r"Column 'weight' of TrackML file '.*event1-truth.csv' contains nan in data row 1"),
    Case("trackml_inf_particles_px", trackml("particles", "0.3,0.4", "-inf,0.4"), ValueError,
         r"Column 'px' of TrackML file '.*event1-particles.csv' contains -inf in data row 1"),
    Case("trackml_duplicate_hit_id", trackml("hits", "3,-110.0", "2,-110.0"), ValueError,
         r"Column 'hit_id' of TrackML file '.*event1-hits.csv' repeats 1 value\(s\), for example \[2\]"),
    Case("trackml_particle_not_in_table", trackml("particles", f"{PION},211", "99,211"), ValueError,
         r"2 particle ids of truth hits are missing from column 'particle_id' of '.*event1-particles.csv', "
         rf"for example \[{PION}, {PION}\]"),
    Case("trackml_truth_hit_not_in_hits", trackml("truth", "3,0,", "3,0,0,0,0,0,0,0,0\n7,0,"), ValueError,
         r"Column 'hit_id' of TrackML file '.*event1-truth.csv' contains 1 hit id\(s\) that are not in "
         r"'.*event1-hits.csv', for example \[7\]"),
    Case("trackml_hit_without_truth", trackml("truth", "3,0,0,0,0,0,0,0,0\n", ""), ValueError,
         r"1 hit ids are missing from column 'hit_id' of '.*event1-truth.csv', for example \[3\]"),
    Case("trackml_hit_outside_detector", trackml("hits", "3,-110.0,0.0,20.0", "3,-5000.0,0.0,20.0"),
         InvalidEventError, r"Event of '.*event1-hits.csv': 'pos' puts hit 2 at r = 500 cm, z = 2 cm, outside "
         r"the detector volume \(0 <= r <= 103 cm, \|z\| <= 300 cm"),
    Case("trackml_hit_outside_dropped",
         trackml("hits", "3,-110.0,0.0,20.0", "3,-5000.0,0.0,20.0", out_of_volume="drop"),
         check=lambda event: event.num_nodes == 2 and event.hit_id.tolist() == [1, 2]),
    Case("trackml_particle_without_pt", trackml("particles", "0.3,0.4,0.1", "0.0,0.0,0.1"), InvalidEventError,
         r"'particle_eta' contains inf at hit 0; expected finite values"),
    Case("trackml_missing_file", trackml(drop="particles"), FileNotFoundError,
         r"TrackML particles file not found: expected '.*event1-particles.csv.gz'"),
    Case("trackml_empty_file", trackml("cells", TRACKML["cells"], ""), ValueError,
         r"TrackML file '.*event1-cells.csv' is empty; expected a header"),
    Case("trackml_unknown_layer", trackml("hits", "8,4,1", "8,5,1"), ValueError,
         r"Unknown \(volume_id, layer_id\) pairs \[\(8, 5\)\]"),
]

# 2. TPCpp archives: two events of 6 hits in one shard.


def tpcpp(edit=None, reader="file", **options):
    """Return a run that writes a TPCpp split, lets ``edit(root)`` change it, and reads it."""

    def run(tmp_path):
        root = tmp_path / "split"
        events = [tpc_event(), tpc_event()]
        events[1].pos[3, 2] += 1.0
        write_tpcpp(events, root)
        if edit is not None:
            edit(root)
        if reader == "dataset":
            dataset = TPCppDataset(root, **options)
            return [dataset[i] for i in range(len(dataset))]
        labels = {name: root / f"{name}_000.npz" for name in ("track_ids", "pid_labels", "noise_tags")}
        return read_tpcpp_file(root / "spacepoints_000.npz", **labels, **options)

    return run


def rewrite(name, **changes):
    """Return an edit that replaces (or with None removes) arrays of archive ``name``."""

    def edit(root):
        path = root / f"{name}_000.npz"
        with np.load(path) as archive:
            arrays = {key: archive[key] for key in archive.files}
        for key, value in changes.items():
            if value is None:
                del arrays[key]
            else:
                arrays[key] = value(arrays.get(key))
        np.savez(path, **arrays)

    return edit


def truncate(name, keep=100):
    def edit(root):
        path = root / f"{name}_000.npz"
        path.write_bytes(path.read_bytes()[:keep])

    return edit


def set_value(row, column, value):
    def change(array):
        array = array.copy()
        array[row, column] = value
        return array

    return change


def shifted_hit(array):
    array = array.copy()
    array[7, 1] = 90.0  # x = 90 cm, beyond the outermost row
    return array


class Exploit:
    """Touch a marker file when unpickled, the way a crafted pickle runs code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def refused_without_running(load, write):
    """Return a run that writes a crafted pickle, loads it, and checks that no code ran."""

    def run(tmp_path):
        marker = tmp_path / "exploit-ran"
        path = write(tmp_path, Exploit(marker))
        try:
            load(path)
        finally:
            assert not marker.exists(), "loading the file ran code from it"

    return run


def write_object_array(tmp_path, exploit):
    root = tmp_path / "split"
    write_tpcpp([tpc_event()], root)
    np.savez(root / "pid_labels_000.npz", data=np.array([exploit] * 6, dtype=object))
    return root


TPCPP_CASES = [
    Case("tpcpp_truncated_npz", tpcpp(truncate("spacepoints")), ValueError,
         r"Failed to open '.*spacepoints_000.npz' as a .npz archive: .* The file is truncated or corrupt"),
    Case("tpcpp_missing_key", tpcpp(rewrite("spacepoints", size=None)), ValueError,
         r"Archive '.*spacepoints_000.npz' has no key 'size'; found \['data'\]"),
    Case("tpcpp_extra_key", tpcpp(rewrite("spacepoints", comment=lambda _: np.arange(3))),
         check=lambda events: len(events) == 2 and torch.equal(events[0].pos, tpc_event().pos)),
    Case("tpcpp_points_as_integers", tpcpp(rewrite("spacepoints", data=lambda data: data.astype(np.int64))),
         ValueError, r"'data' in '.*spacepoints_000.npz' must hold floats, got dtype int64"),
    Case("tpcpp_nan_energy", tpcpp(rewrite("spacepoints", data=set_value(1, 0, np.nan))), ValueError,
         r"'data' in '.*spacepoints_000.npz' contains nan in column 'E' of row 1"),
    Case("tpcpp_inf_y", tpcpp(rewrite("spacepoints", data=set_value(8, 2, np.inf))), ValueError,
         r"contains inf in column 'y' of row 8; expected finite \(E, x, y, z\) values"),
    Case("tpcpp_nan_z", tpcpp(rewrite("spacepoints", data=set_value(11, 3, np.nan))), ValueError,
         r"contains nan in column 'z' of row 11"),
    Case("tpcpp_sizes_do_not_add_up", tpcpp(rewrite("spacepoints", size=lambda size: size - [0, 1])),
         ValueError, r"'data' in '.*spacepoints_000.npz' has 12 rows but 'size' adds up to 11"),
    Case("tpcpp_label_too_short", tpcpp(rewrite("track_ids", data=lambda data: data[:-1])), ValueError,
         r"'data' in '.*track_ids_000.npz' has shape \[11\], expected \[12\]"),
    Case("tpcpp_pid_out_of_range", tpcpp(rewrite("pid_labels", data=lambda data: np.where(
        np.arange(12) == 2, 9, data))), ValueError, r"'data' in '.*pid_labels_000.npz' contains 9 in row 2"),
    Case("tpcpp_object_array_refused", refused_without_running(
        lambda root: TPCppDataset(root), write_object_array), ValueError,
         r"'data' in '.*pid_labels_000.npz' must hold integers or booleans, got dtype object"),
    Case("tpcpp_hit_outside_tpc", tpcpp(rewrite("spacepoints", data=shifted_hit)), InvalidEventError,
         r"Event 1 of '.*spacepoints_000.npz': 'pos' puts hit 1 at r = 90\.\d+ cm"),
    Case("tpcpp_hit_outside_dropped",
         tpcpp(rewrite("spacepoints", data=shifted_hit), reader="dataset", out_of_volume="drop"),
         check=lambda events: [event.num_nodes for event in events] == [6, 5]),
    Case("tpcpp_no_archives", tpcpp(lambda root: [path.unlink() for path in root.iterdir()], reader="dataset"),
         FileNotFoundError, r"No TPCpp spacepoint archives in '.*split'"),
    Case("tpcpp_unknown_out_of_volume", tpcpp(reader="dataset", out_of_volume="clip"), ValueError,
         r"Expected out_of_volume to be one of \('raise', 'drop'\), got 'clip'"),
]

# 3. Chunk files of simulated datasets: particle-gun events, 3 in chunks of 2.

GUN = SimulationConfig(source="gun", gun=ParticleGun(num_particles=2), noise_rate=5.0)


def dataset(tmp_path):
    return TPCSimDataset(str(tmp_path / "data"), num_events=3, config=GUN, chunk_size=2)


def chunk_run(damage, index=0):
    """Return a run that builds the dataset, lets ``damage(path)`` change chunk 0, and reads event ``index``."""

    def run(tmp_path):
        first = dataset(tmp_path)
        expected = first[index]
        damage(first.processed_paths[0])
        return expected, dataset(tmp_path)[index]

    return run


def chunk_removed_after_opening(tmp_path):
    opened = dataset(tmp_path)
    os.remove(opened.processed_paths[1])
    return opened[2]


def corrupt_zip(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"not a pickle")


def nan_energy(path):
    events = [tpc_event(), tpc_event()]
    events[0].energy[2] = float("nan")
    save_chunk(events, path)


def exploit_chunk(tmp_path, exploit):
    path = dataset(tmp_path).processed_paths[0]
    torch.save(({"x": exploit}, {}), path)
    return path


def crafted_pre_transform_record(tmp_path):
    # PyG's Dataset records its pre-transform in pre_transform.pt and, by
    # default, unpickles that record when the dataset is built again.
    marker = tmp_path / "exploit-ran"
    torch.save(Exploit(marker), Path(dataset(tmp_path).processed_dir) / "pre_transform.pt")
    reopened = dataset(tmp_path)
    assert not marker.exists(), "building the dataset ran code from pre_transform.pt"
    return len(reopened), reopened[2].num_nodes


def same_event(pair):
    expected, read = pair
    assert torch.equal(expected.pos, read.pos)
    assert torch.equal(expected.particle_id, read.particle_id)


CHUNK_CASES = [
    Case("chunk_truncated_resimulated", chunk_run(lambda path: Path(path).write_bytes(
        Path(path).read_bytes()[:300])), check=same_event),
    Case("chunk_garbage_resimulated", chunk_run(lambda path: Path(path).write_bytes(b"\0" * 64)),
         check=same_event),
    Case("chunk_corrupt_archive", chunk_run(corrupt_zip), RuntimeError,
         r"Failed to read chunk file .*chunk_0_1.pt .*; delete it and construct the dataset again"),
    Case("chunk_crafted_pickle_refused", refused_without_running(lambda path: load_chunk(path, 2), exploit_chunk),
         RuntimeError, r"contains objects that torch.load\(weights_only=True\) rejects"),
    Case("chunk_removed_after_opening", chunk_removed_after_opening, FileNotFoundError,
         r"Chunk file .*chunk_2_2.pt not found: it was removed after the dataset was opened. Run the command "
         r"again"),
    Case("dataset_crafted_pre_transform_record", crafted_pre_transform_record,
         check=lambda result: result[0] == 3 and result[1] > 0),
    Case("chunk_event_with_nan_energy", chunk_run(nan_energy), InvalidEventError,
         r"Event 0 of '.*chunk_0_1.pt': 'energy' contains nan at hit 2"),
]

# 4. Checkpoints and fitted statistics.

TINY = dict(d_model=16, n_layer=1, headdim=8, chunk_size=16)


def truncated_checkpoint(tmp_path):
    path = save_checkpoint({"step": 4, "weights": torch.zeros(64)}, tmp_path / "ckpt.pt")
    path.write_bytes(path.read_bytes()[:200])
    return load_checkpoint(path)


def exploit_checkpoint(tmp_path, exploit):
    path = tmp_path / "evil.pt"
    torch.save({"step": exploit}, path)
    return path


def backbone_with(**kwargs):
    def run(tmp_path):
        path = save_backbone(FM4NPPBackbone(**TINY), tmp_path / "backbone.pt")
        payload = load_checkpoint(path)
        payload["backbone_kwargs"].update(kwargs)
        save_checkpoint(payload, path)
        return load_backbone(path)

    return run


def statistics(name, text):
    def run(tmp_path):
        path = tmp_path / name
        path.write_text(text)
        loader = HitFeatures if name == "features.json" else HierarchicalRasterScan
        return loader.load(path)

    return run


def partial_checkpoint_files(tmp_path):
    folder = tmp_path / "checkpoints"
    save_checkpoint({"step": 2}, folder / "step_00000002.pt")
    # What a process killed inside save_checkpoint leaves, next to files of
    # other names that must stay.
    (folder / ".step_00000003.pt.k2x9q1.tmp").write_bytes(b"PK\x03\x04 cut off")
    (folder / "notes.tmp").write_text("kept")
    removed = remove_partial_checkpoints(folder)
    return [path.name for path in removed], sorted(path.name for path in folder.iterdir())


FEATURES = json.dumps({"energy_mean": 1.0, "energy_std": 0.5, "r_min": 31.0, "r_max": 76.0})
EDGES = json.dumps({"r_edges": [40.0], "phi_edges": [0.0], "eta_edges": [0.0], "axis_order": ["r", "phi", "eta"]})

STORED_CASES = [
    Case("checkpoint_truncated", truncated_checkpoint, ValueError, r"checkpoint .*ckpt.pt is corrupt or truncated"),
    Case("checkpoint_crafted_pickle_refused", refused_without_running(load_checkpoint, exploit_checkpoint),
         ValueError, r"checkpoint .*evil.pt contains objects that need arbitrary unpickling, which is not allowed"),
    Case("checkpoint_not_a_dict", lambda tmp_path: load_checkpoint(save_checkpoint([1, 2], tmp_path / "list.pt")),
         ValueError, r"checkpoint .*list.pt must contain a dict, got list"),
    Case("backbone_unknown_setting", backbone_with(width=3), ValueError,
         r"backbone.pt does not hold a valid backbone checkpoint: .*unexpected keyword argument 'width'"),
    Case("backbone_weights_of_other_width", backbone_with(d_model=32), ValueError,
         r"backbone.pt does not hold a valid backbone checkpoint: Error\(s\) in loading state_dict"),
    Case("checkpoint_partial_files_removed", partial_checkpoint_files, check=lambda result: result == (
        [".step_00000003.pt.k2x9q1.tmp"], ["notes.tmp", "step_00000002.pt"])),
    Case("features_truncated", statistics("features.json", FEATURES[:30]), ValueError,
         r"feature statistics .*features.json are not valid JSON: .*; fit them again"),
    Case("features_unknown_key", statistics("features.json", FEATURES[:-1] + ', "energy_scale": 2}'),
         ValueError, r"feature statistics .*features.json are invalid: HitFeatures settings need the keys"),
    Case("features_text_value", statistics("features.json", FEATURES.replace("0.5", '"half"')), ValueError,
         r"features.json are invalid: HitFeatures setting 'energy_std' must be a finite number, got 'half'"),
    Case("features_round_trip", lambda tmp_path: HitFeatures.load(HitFeatures(1.0, 0.5, 31.0, 76.0).save(
        tmp_path / "features.json")).to_dict(), check=lambda values: values == {
        "energy_mean": 1.0, "energy_std": 0.5, "r_min": 31.0, "r_max": 76.0, "eta_scale": 2.0,
        "log_energy": True}),
    Case("serialization_truncated", statistics("serialization.json", EDGES[:25]), ValueError,
         r"serialization settings .*serialization.json are not valid JSON"),
    Case("serialization_text_edges", statistics("serialization.json", EDGES.replace("[40.0]", '"forty"')),
         ValueError, r"serialization.json are invalid: r_edges must be a sequence of numbers, got 'forty'"),
    Case("serialization_missing_key", statistics("serialization.json", EDGES.replace('"phi_edges"', '"phi"')),
         ValueError, r"serialization.json are invalid: HierarchicalRasterScan settings need the keys"),
]


@pytest.mark.parametrize("case", helpers["params"](TRACKML_CASES + TPCPP_CASES + CHUNK_CASES + STORED_CASES))
def test_bad_file(case, tmp_path):
    helpers["run_case"](case, tmp_path)
