import math

import pytest
import torch

from fm4npp_geo.nn import HitEmbedding


def test_fixed_projections_are_buffers():
    embedding = HitEmbedding(16, num_frequencies=3)

    assert list(embedding.parameters()) == []
    assert set(embedding.state_dict()) == {"energy_weight", "coord_weight"}
    assert embedding.energy_weight.shape == (16,)
    assert embedding.coord_weight.shape == (16, 3 * 2 * 3)


def test_learnable_projections_are_parameters():
    embedding = HitEmbedding(16, num_frequencies=3, learnable=True)
    names = {name for name, _ in embedding.named_parameters()}

    assert names == {"energy_weight", "coord_weight"}
    assert set(embedding.state_dict()) == {"energy_weight", "coord_weight"}


def test_same_seed_gives_same_projections():
    first = HitEmbedding(16, seed=3)
    second = HitEmbedding(16, seed=3)
    other = HitEmbedding(16, seed=4)

    assert torch.equal(first.coord_weight, second.coord_weight)
    assert torch.equal(first.energy_weight, second.energy_weight)
    assert not torch.equal(first.coord_weight, other.coord_weight)


def test_output_shape():
    embedding = HitEmbedding(24)

    assert embedding(torch.rand(7, 4)).shape == (7, 24)
    assert embedding(torch.rand(2, 5, 4)).shape == (2, 5, 24)


def test_encoding_by_hand():
    embedding = HitEmbedding(8, in_features=2, num_frequencies=2)
    p = torch.tensor([[0.25]])

    # sin(pi p), sin(2 pi p), cos(pi p), cos(2 pi p) for p = 0.25
    expected = torch.tensor([[math.sqrt(0.5), 1.0, math.sqrt(0.5), 0.0]])
    assert torch.allclose(embedding.encode_coordinates(p), expected, atol=1e-6)


def test_output_is_energy_term_plus_projected_encoding():
    embedding = HitEmbedding(8, num_frequencies=4)
    x = torch.tensor([[2.0, 0.1, -0.5, 0.9], [0.0, 0.3, 0.2, 0.4]])

    expected = (
        x[:, :1] * embedding.energy_weight
        + embedding.encode_coordinates(x[:, 1:]) @ embedding.coord_weight.t()
    )

    assert torch.allclose(embedding(x), expected)
    # A hit with zero energy gets only the position term.
    position_only = embedding.encode_coordinates(x[1:, 1:]) @ embedding.coord_weight.t()
    assert torch.allclose(embedding(x)[1:], position_only)


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="'in_features' >= 2 .* got 1"):
        HitEmbedding(8, in_features=1)
    with pytest.raises(ValueError, match="positive 'd_model', got 0"):
        HitEmbedding(0)
    with pytest.raises(ValueError, match=r"size 4 .* got shape \(3, 5\)"):
        HitEmbedding(8)(torch.rand(3, 5))
