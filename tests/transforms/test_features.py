import math

import pytest
import torch
from torch_geometric.data import Data

from fm4npp_geo.transforms import HitFeatures


def test_features_hand_computed():
    pos = torch.tensor([[30.0, 0.0, 0.0], [0.0, 70.0, 70.0 * math.sinh(1.0)]])
    energy = torch.tensor([1.0, 3.0])
    transform = HitFeatures(energy_mean=2.0, energy_std=0.5, r_min=30.0, r_max=70.0, log_energy=False)
    x = transform(Data(pos=pos, energy=energy)).x
    expected = torch.tensor([[-2.0, 0.0, 0.0, 0.0], [2.0, 0.5, 0.5, 1.0]])
    assert torch.allclose(x, expected, atol=1e-5)


def test_fit_standardizes():
    torch.manual_seed(0)
    events = [Data(pos=torch.randn(50, 3) * 40, energy=torch.rand(50) * 100) for _ in range(3)]
    transform = HitFeatures.fit(events)
    x = torch.cat([transform(e).x for e in events])
    assert x[:, 0].mean().abs() < 1e-4
    assert (x[:, 0].std() - 1).abs() < 1e-3
    assert x[:, 3].min().abs() < 1e-5
    assert (x[:, 3].max() - 1).abs() < 1e-5


def test_round_trip_dict():
    transform = HitFeatures(1.0, 2.0, 30.0, 80.0)
    assert HitFeatures.from_dict(transform.to_dict()).to_dict() == transform.to_dict()


def test_invalid_statistics_rejected():
    with pytest.raises(ValueError, match="r_max must exceed r_min"):
        HitFeatures(0.0, 1.0, r_min=50.0, r_max=50.0)
    with pytest.raises(ValueError, match="at least 2 hits"):
        HitFeatures.fit([])
