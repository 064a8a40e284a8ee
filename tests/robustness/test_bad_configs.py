"""Command-line configs with a typo, a wrong type, an impossible combination
or a wrong path: each fails with exit code 2 before any work starts, and the
message names the key and what to do."""

import contextlib
import io
import runpy
from pathlib import Path

import pytest

from fm4npp_geo.cli import main

helpers = runpy.run_path(str(Path(__file__).with_name("_helpers.py")))
Case = helpers["Case"]


def cli(command, *overrides):
    """Return a run of ``fm4npp-geo command`` that records its exit code, stderr and new files."""

    def run(tmp_path):
        out_dir, data_root = tmp_path / "out", tmp_path / "data"
        # 'simulate' writes only to data.root.
        paths = [f"data.root={data_root}"] if command == "simulate" else [f"out_dir={out_dir}", f"data.root={data_root}"]
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            code = main([command, *paths, *overrides])
        return code, stderr.getvalue(), out_dir.exists() or data_root.exists()

    return run


def rejected(fragment):
    """Return a check that the command failed with ``fragment`` in its message and wrote nothing."""

    def check(result):
        code, stderr, wrote = result
        assert code == 2
        assert fragment in stderr, stderr
        assert "invalid configuration" in stderr
        assert not wrote

    return check


CASES = [
    Case("typo_in_key", cli("pretrain", "pretrain.stesp=3"), check=rejected(
        "Could not override 'pretrain.stesp'. The key does not exist in the config: check its spelling, or print "
        "every key with `fm4npp-geo pretrain --cfg`.")),
    Case("unknown_key_appended", cli("pretrain", "+model.widht=3"), check=rejected(
        "model.widht is not a valid key of the pretrain config: Key 'widht' not in 'ModelConfig'")),
    Case("text_for_whole_number", cli("pretrain", "model.d_model=wide"), check=rejected(
        "model.d_model must be a whole number >= 1, got 'wide'")),
    Case("fraction_for_whole_number", cli("finetune", "pretrained=null", "data.num_test=2.5"), check=rejected(
        "data.num_test must be a whole number >= 1, got 2.5")),
    Case("text_for_float", cli("pretrain", "pretrain.lr=fast"), check=rejected(
        "pretrain.lr: Value 'fast' of type 'str' could not be converted to Float; got 'fast' from the override")),
    Case("text_for_bool", cli("pretrain", "resume=maybe"), check=rejected(
        "resume: Value 'maybe' is not a valid bool")),
    Case("null_for_required", cli("pretrain", "seed=null"), check=rejected(
        "seed: field 'seed' is not Optional")),
    Case("headdim_not_dividing", cli("pretrain", "model.headdim=48"), check=rejected(
        "model.headdim=48 must divide the inner width model.expand * model.d_model = 2 * 64 = 128")),
    Case("ngroups_not_dividing", cli("pretrain", "model.ngroups=3"), check=rejected(
        "model.ngroups=3 must divide the 2 Mamba2 heads")),
    Case("k_above_cap", cli("pretrain", "pretrain.k=1000"), check=rejected(
        "pretrain.k must be at most 256, got 1000; FM4NPP uses k = 30")),
    Case("negative_workers", cli("pretrain", "data.num_workers=-2"), check=rejected(
        "data.num_workers must be a whole number >= 0, got -2")),
    Case("negative_steps", cli("benchmark", "pretrain.steps=-5"), check=rejected(
        "pretrain.steps must be a whole number >= 1, got -5")),
    Case("no_batch_cap", cli("benchmark", "pretrain.batch_size=null", "pretrain.max_hits=null"), check=rejected(
        "set pretrain.batch_size, pretrain.max_hits or both to size the batches")),
    Case("bin_weights_length", cli("pretrain", "pretrain.hit_count_bins=[100]", "pretrain.bin_weights=[1.0]"),
         check=rejected("pretrain.bin_weights needs len(pretrain.hit_count_bins) + 1 = 2 values, got 1")),
    Case("unknown_group_option", cli("finetune", "model=m9"), check=rejected(
        "Could not find 'model/m9'; available options: m1, m1_cpu, m2, m3, m4, m5, m6")),
    Case("unknown_task_argument", cli("finetune", "pretrained=null", "+task.num_querys=3"), check=rejected(
        "task.num_querys is not an argument of fm4npp_geo.training.adapters.QueryTracker")),
    Case("unknown_tracker_argument", cli("benchmark", "+trackers.exatrkx.gnn_hiden=3"), check=rejected(
        "trackers.exatrkx.gnn_hiden is not an argument of baselines.exatrkx.ExaTrkXTracker")),
    Case("target_not_importable", cli("baseline", "baselines.exatrkx._target_=baselines.nothing.Tracker"),
         check=rejected("baselines.exatrkx._target_ names 'baselines.nothing.Tracker', which cannot be imported")),
    Case("unknown_simulation_setting", cli("simulate", "+data.simulation.noise_rat=1"), check=rejected(
        "Unknown simulation settings ['noise_rat']")),
    Case("negative_simulation_setting", cli("simulate", "+data.simulation.noise_rate=-1"), check=rejected(
        "Expected a non-negative 'noise_rate', got -1")),
    Case("unknown_data_source", cli("benchmark", "data.source=hdf5"), check=rejected(
        "data.source must be one of ['tpc_sim', 'trackml'], got 'hdf5'")),
    Case("missing_pretrained_folder", cli("finetune", "pretrained=/nonexistent/run"), check=rejected(
        "pretrained=/nonexistent/run lacks ['backbone.pt', 'features.json', 'serialization.json']; run "
        "`fm4npp-geo pretrain out_dir=/nonexistent/run` first")),
    Case("missing_trackml_folder", cli("baseline", "trackml_dir=/nonexistent/trackml"), check=rejected(
        "trackml_dir=/nonexistent/trackml is not a folder")),
]


@pytest.mark.parametrize("case", helpers["params"](CASES))
def test_bad_config(case, tmp_path):
    helpers["run_case"](case, tmp_path)


def test_model_info_rejects_bad_model(capsys):
    assert main(["model-info", "model.expand=0"]) == 2
    assert "model.expand must be a whole number >= 1, got 0" in capsys.readouterr().err
