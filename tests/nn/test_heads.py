import pytest
import torch

from fm4npp_geo.nn.heads import LayerMix, TrackEmbeddingHead


def test_layer_mix_starts_as_mean():
    mix = LayerMix(num_layers=2, in_channels=3, out_channels=3)
    layers = torch.randn(2, 5, 3)
    expected = mix.proj(mix.norm(layers.mean(dim=0)))
    assert torch.allclose(mix(layers), expected, atol=1e-6)
    assert torch.allclose(mix(list(layers)), expected, atol=1e-6)


def test_layer_mix_wrong_layer_count():
    with pytest.raises(ValueError, match="expected 3 block outputs, got 2"):
        LayerMix(3, 4, 4)(torch.randn(2, 5, 4))


def test_embedding_unit_norm():
    head = TrackEmbeddingHead(num_layers=2, in_channels=8, hidden_channels=16, out_channels=5)
    out = head(torch.randn(2, 7, 8), torch.zeros(7, dtype=torch.long))
    assert out.shape == (7, 5)
    assert torch.allclose(out.norm(dim=-1), torch.ones(7), atol=1e-5)


def test_attention_stays_inside_event():
    torch.manual_seed(0)
    head = TrackEmbeddingHead(num_layers=1, in_channels=8, hidden_channels=16, attention_layers=1).eval()
    first, second = torch.randn(1, 4, 8), torch.randn(1, 9, 8)
    alone = head(first, torch.zeros(4, dtype=torch.long))
    together = head(torch.cat([first, second], dim=1), torch.tensor([0] * 4 + [1] * 9))
    assert torch.allclose(together[:4], alone, atol=1e-5)


def test_negative_attention_layers_rejected():
    with pytest.raises(ValueError, match="attention_layers must be >= 0"):
        TrackEmbeddingHead(1, 8, attention_layers=-1)
