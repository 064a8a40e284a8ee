import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, precision_score, recall_score

from fm4npp_geo.metrics import ClassificationEvaluator, classification_metrics, confusion_matrix

TARGET = np.array([0, 0, 1, 1, 2])
PRED = np.array([0, 1, 1, 1, 0])


def test_confusion_matrix_rows_are_truth():
    assert confusion_matrix(PRED, TARGET, 3).tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]


def test_metrics_by_hand():
    result = classification_metrics(PRED, TARGET, 4)
    # Class 3 never occurs, so the macro averages run over classes 0, 1, 2.
    assert result["accuracy"] == pytest.approx(3 / 5)
    assert result["precision"] == pytest.approx([1 / 2, 2 / 3, 0.0, 0.0])
    assert result["recall"] == pytest.approx([1 / 2, 1.0, 0.0, 0.0])
    assert result["macro_precision"] == pytest.approx((1 / 2 + 2 / 3) / 3)
    assert result["macro_recall"] == pytest.approx(1.5 / 3)
    assert result["macro_f1"] == pytest.approx((0.5 + 0.8) / 3)


def test_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    target, pred = rng.integers(0, 5, 200), rng.integers(0, 4, 200)
    result = classification_metrics(pred, target, 5)
    kwargs = {"average": "macro", "zero_division": 0}
    assert result["macro_precision"] == pytest.approx(precision_score(target, pred, **kwargs))
    assert result["macro_recall"] == pytest.approx(recall_score(target, pred, **kwargs))
    assert result["macro_f1"] == pytest.approx(f1_score(target, pred, **kwargs))


def test_bool_noise_labels():
    result = classification_metrics(torch.tensor([1, 0, 0]), torch.tensor([True, False, True]), 2)
    assert result["accuracy"] == pytest.approx(2 / 3)


def test_out_of_range_class_rejected():
    with pytest.raises(ValueError, match=r"'pred' contains class 5, expected classes 0..4"):
        classification_metrics(np.array([5]), np.array([0]), 5)
    with pytest.raises(ValueError, match="'pred' has 1 hits but 'target' has 2"):
        confusion_matrix(np.array([0]), np.array([0, 1]), 2)


def test_evaluator_pools_and_bins():
    evaluator = ClassificationEvaluator(3, ("a", "b", "c"))
    evaluator.update(PRED, TARGET, particle_id=[1, 1, 2, 2, 0], particle_pt=[0.5, 0.5, 2.0, 2.0, 0.0],
                     particle_eta=[0.0] * 5)
    evaluator.update(np.array([2, 2]), np.array([2, 2]), particle_id=[3, 3], particle_pt=[2.0, 2.0],
                     particle_eta=[0.0, 0.0])
    result = evaluator.compute()
    assert result["accuracy"] == pytest.approx(5 / 7)
    assert result["event_accuracy"] == pytest.approx((3 / 5 + 1.0) / 2)
    assert result["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    assert result["num_hits"] == 7
    curve = evaluator.curve("pt", [0.0, 1.0, 3.0])
    # The noise hit is left out: pT < 1 has 1 of 2 right, pT >= 1 has 4 of 4.
    assert curve["count"] == [2, 4]
    assert curve["rate"] == pytest.approx([0.5, 1.0])


def test_evaluator_rejects_bad_setup():
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        ClassificationEvaluator(1)
    with pytest.raises(ValueError, match="2 class names for 3 classes"):
        ClassificationEvaluator(3, ("a", "b"))
