import json

import pytest

from fm4npp_geo.benchmark import SCHEMA_VERSION, format_report, format_table, validate_record, write_record


def model_entry(kind: str, seeds: list[int], mean: dict, std: dict, task: str = "tracking") -> dict:
    runs = [{"seed": seed, "metrics": mean, "fit": {}, "curves": {}} for seed in seeds]
    return {
        "kind": kind,
        "task": task,
        "target": "some.Model",
        "num_parameters": 1234,
        "num_test_events": 5,
        "seeds": seeds,
        "mean": mean,
        "std": std,
        "per_seed": runs,
    }


def make_record(seeds: list[int]) -> dict:
    tracker_mean = {"ari": 0.9, "efficiency": 0.8, "purity": 0.7, "train_seconds": 12.0, "inference_ms_per_event": 3.0}
    tracker_std = {key: 0.01 for key in tracker_mean}
    classifier_mean = {"accuracy": 0.6, "macro_precision": 0.5, "macro_recall": 0.4, "macro_f1": 0.45,
                       "train_seconds": 1.0, "inference_ms_per_event": 0.5}
    return {
        "schema_version": SCHEMA_VERSION,
        "created": "2026-12-04T23:00:00+00:00",
        "data": {"source": "tpc_sim", "description": "toy", "root": "x", "events": 20, "mean_hits_per_event": 10.0,
                 "mean_tracks_per_event": 2.0, "num_pretrain": 5, "num_train": 5, "num_val": 5, "num_test": 5},
        "seeds": seeds,
        "metrics_config": {"reconstructable": {"min_hits": 3, "min_pt": 0.5, "max_abs_eta": None}},
        "pretrain": {},
        "models": {
            "tracker": model_entry("tracker", seeds, tracker_mean, tracker_std),
            "pid": model_entry("classifier", seeds, classifier_mean, {k: 0.0 for k in classifier_mean}, "pid_label"),
        },
        "config": {},
        "machine": "test machine",
        "total_seconds": 42.0,
    }


def test_table_shows_mean_and_std_for_several_seeds():
    table = format_table(make_record([0, 1]))
    assert "| tracker | 0.900 ± 0.010 | 0.800 ± 0.010 | 0.700 ± 0.010 | n/a |" in table
    assert "| pid | pid_label | 0.600 ± 0.000 |" in table
    assert "| tracker | 1,234 | 12.0 ± 0.0 | 3.0 ± 0.0 |" in table


def test_table_with_one_seed_has_no_std():
    table = format_table(make_record([0]))
    assert "| tracker | 0.900 | 0.800 | 0.700 | n/a |" in table
    assert "±" not in table


def test_report_states_rule_and_seeds():
    report = format_report(make_record([0, 1]))
    assert report.startswith("# fm4npp-geo benchmark")
    assert "Seeds: 0, 1 (each cell is the mean ± standard deviation over seeds)." in report
    assert "(at least 3 hits, pT >= 0.5 GeV)" in report
    assert "Whole run: 42 s." in report


def test_write_record_round_trip(tmp_path):
    record = make_record([0])
    json_path, report_path = write_record(record, tmp_path)
    assert json.loads(json_path.read_text()) == record
    assert report_path.read_text() == format_report(record)


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda r: r.update(schema_version=1), "schema_version 1, expected 2"),
        (lambda r: r.pop("seeds"), "the record lacks 'seeds'"),
        (lambda r: r["models"]["tracker"].update(kind="regressor"), "expected tracker or classifier"),
        (lambda r: r["models"]["pid"]["per_seed"].pop(), "has 0 runs for 1 seeds"),
        (lambda r: r["models"]["pid"].update(num_parameters="many"), "\\['num_parameters'\\] should be"),
    ],
)
def test_validate_record_names_the_problem(change, message):
    record = make_record([0])
    change(record)
    with pytest.raises(ValueError, match=message):
        validate_record(record)
