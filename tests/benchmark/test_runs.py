import numpy as np
import pytest
from omegaconf import OmegaConf

from fm4npp_geo.benchmark.runs import read_seeds, run_all_models, run_model, summarize_seeds


def make_cfg(module: str, tracker: str = "TruthTracker") -> OmegaConf:
    return OmegaConf.create(
        {
            "seed": 0,
            "trackers": {"truth": {"_target_": f"{module}.{tracker}", "drop": 0.3, "seed": "${seed}"}},
            "classifiers": {"noise": {"_target_": f"{module}.NoiseTagger", "flip": 0.2, "seed": "${seed}"}},
            "metrics": {"reconstructable": {"min_hits": 3, "max_abs_eta": None}},
        }
    )


def make_splits(events):
    return {"train": events[:4], "val": events[4:6], "test": events[6:9]}


def test_two_seeds_give_mean_and_std(toy_models, toy_events):
    runs = run_all_models(make_cfg(toy_models), make_splits(toy_events), seeds=[0, 1])
    assert list(runs) == ["truth", "noise"]

    tracker = runs["truth"].record
    assert tracker["kind"] == "tracker"
    assert tracker["task"] == "tracking"
    assert tracker["seeds"] == [0, 1]
    assert tracker["num_parameters"] == 7
    assert tracker["num_test_events"] == 3
    # The config's ${seed} follows each run: the toy's fit loss is 0.5 + seed.
    assert [run["fit"] for run in tracker["per_seed"]] == [{"loss": 0.5}, {"loss": 1.5}]
    aris = [run["metrics"]["ari"] for run in tracker["per_seed"]]
    assert aris[0] != aris[1]
    assert tracker["mean"]["ari"] == pytest.approx(np.mean(aris))
    assert tracker["std"]["ari"] == pytest.approx(np.std(aris, ddof=1))
    # extra_metrics() is merged; its NaN is dropped.
    assert tracker["mean"]["edge_efficiency"] == 0.9
    assert "edge_purity" not in tracker["mean"]
    for key in ("efficiency", "dm_efficiency", "trackml_score", "train_seconds", "inference_ms_per_event"):
        assert key in tracker["mean"], key
    assert set(tracker["per_seed"][0]["curves"]) == {"efficiency", "dm_efficiency", "dm_fake_rate", "purity"}
    assert len(tracker["per_seed"][0]["ari_per_event"]) == 3
    assert len(runs["truth"].predictions) == 3

    classifier = runs["noise"].record
    assert classifier["kind"] == "classifier"
    assert classifier["task"] == "noise_label"
    accuracies = [run["metrics"]["accuracy"] for run in classifier["per_seed"]]
    assert 0.5 < min(accuracies) < 1.0
    assert classifier["mean"]["accuracy"] == pytest.approx(np.mean(accuracies))
    assert classifier["per_seed"][0]["class_names"] == ["signal", "noise"]
    assert np.array(classifier["per_seed"][0]["confusion"]).sum() == sum(e.num_nodes for e in toy_events[6:9])


def test_wrong_prediction_shape_rejected(toy_models, toy_events):
    cfg = make_cfg(toy_models, "WrongShapeTracker")
    with pytest.raises(ValueError, match="predict\\(\\) must return a tensor with one label per hit"):
        run_model(cfg, "trackers", "truth", make_splits(toy_events), seeds=[0])


def test_object_without_protocol_rejected(toy_models, toy_events):
    cfg = make_cfg(toy_models, "NotAModel")
    with pytest.raises(TypeError, match="lacks the TrackFinder methods"):
        run_model(cfg, "trackers", "truth", make_splits(toy_events), seeds=[0])


def test_same_name_in_both_sections_rejected(toy_models, toy_events):
    cfg = make_cfg(toy_models)
    cfg.classifiers = {"truth": cfg.classifiers.noise}
    with pytest.raises(ValueError, match="'truth' is used in both 'trackers' and 'classifiers'"):
        run_all_models(cfg, make_splits(toy_events), seeds=[0])


def test_read_seeds():
    assert read_seeds(OmegaConf.create({"seed": 4})) == [4]
    assert read_seeds(OmegaConf.create({"seed": 4, "seeds": [1, 2]})) == [1, 2]
    for bad in ([], [1, 1], [1.5]):
        with pytest.raises(ValueError, match="seeds must be a non-empty list of distinct whole numbers"):
            read_seeds(OmegaConf.create({"seed": 0, "seeds": bad}))


def test_summarize_seeds_by_hand():
    runs = [{"metrics": {"a": 1.0, "b": 2, "c": "x"}}, {"metrics": {"a": 3.0, "b": 4}}]
    mean, std = summarize_seeds(runs)
    assert mean == {"a": 2.0, "b": 3.0}
    assert std == {"a": pytest.approx(2**0.5), "b": pytest.approx(2**0.5)}
    assert summarize_seeds(runs[:1])[1] == {"a": 0.0, "b": 0.0}
