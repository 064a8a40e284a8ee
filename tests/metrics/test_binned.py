import math

import pytest

from fm4npp_geo.metrics import binned_mean, binned_rate


def test_binned_rate_by_hand():
    values = [0.1, 0.5, 0.5, 2.0, 5.0, 7.0, -1.0]
    passed = [1, 0, 1, 1, 1, 1, 1]
    curve = binned_rate(values, passed, [0.0, 1.0, 5.0])
    # 5.0 closes the last bin; 7.0 and -1.0 are outside.
    assert curve["count"] == [3, 2]
    assert curve["rate"] == pytest.approx([2 / 3, 1.0])
    assert curve["error"] == pytest.approx([math.sqrt(2 / 3 * 1 / 3 / 3), 0.0])
    assert curve["edges"] == [0.0, 1.0, 5.0]


def test_binned_mean_by_hand():
    curve = binned_mean([0.5, 0.5, 2.0, 9.0], [0.2, 0.4, 0.9, 1.0], [0.0, 1.0, 5.0, 10.0])
    assert curve["rate"] == pytest.approx([0.3, 0.9, 1.0])
    assert curve["error"][0] == pytest.approx(math.sqrt(0.02) / math.sqrt(2))
    assert curve["error"][1:] == [0.0, 0.0]


def test_empty_bins_are_zero():
    curve = binned_rate([], [], [0.0, 1.0])
    assert curve == {"edges": [0.0, 1.0], "rate": [0.0], "error": [0.0], "count": [0]}


def test_bad_edges_rejected():
    with pytest.raises(ValueError, match="at least two increasing numbers"):
        binned_rate([1.0], [1], [1.0, 1.0])
    with pytest.raises(ValueError, match="'passed' has 2 entries but 'values' has 1"):
        binned_rate([1.0], [1, 0], [0.0, 2.0])
