import math

import pytest
import torch
from torch_geometric.data import Data

from baselines.exatrkx import edge_features, hit_features, wrap_angle


def test_hit_features_cylindrical():
    data = Data(pos=torch.tensor([[0.0, 50.0, -30.0], [-20.0, 0.0, 100.0]]))
    features = hit_features(data, r_scale=100.0, z_scale=50.0)
    expected = torch.tensor([[0.5, 0.5, -0.6], [0.2, 1.0, 2.0]])
    assert torch.allclose(features, expected)


def test_hit_features_include_x():
    data = Data(pos=torch.tensor([[3.0, 4.0, 0.0]]), x=torch.tensor([[7.0, 8.0]]))
    features = hit_features(data, include_x=True)
    assert features.shape == (1, 5)
    assert features[0, 3:].tolist() == [7.0, 8.0]


def test_hit_features_include_x_missing():
    with pytest.raises(ValueError, match="has no 'x'"):
        hit_features(Data(pos=torch.zeros(2, 3)), include_x=True)


def test_hit_features_invalid_scale():
    with pytest.raises(ValueError, match="r_scale=0.0"):
        hit_features(Data(pos=torch.zeros(2, 3)), r_scale=0.0)


def test_wrap_angle():
    angles = torch.tensor([0.5, 3.5, -3.5, 2 * math.pi])
    expected = torch.tensor([0.5, 3.5 - 2 * math.pi, 2 * math.pi - 3.5, 0.0])
    assert torch.allclose(wrap_angle(angles), expected, atol=1e-6)


def test_edge_features_wrap_phi():
    # The azimuth goes from just below pi to just above -pi: a small step.
    pos = torch.tensor(
        [[-40.0, 0.1, 10.0], [-60.0, -0.1, 40.0]], dtype=torch.float64
    )
    embedding = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    features = edge_features(pos, embedding, torch.tensor([[0], [1]]), 100.0, 100.0)
    dphi = (0.1 / 60.0 + 0.1 / 40.0) / math.pi
    assert features.shape == (1, 4)
    assert features[0, 0].item() == pytest.approx(0.2, abs=1e-4)
    assert features[0, 1].item() == pytest.approx(dphi, abs=1e-4)
    assert features[0, 2].item() == pytest.approx(0.3, abs=1e-6)
    assert features[0, 3].item() == pytest.approx(math.sqrt(2.0), abs=1e-6)
