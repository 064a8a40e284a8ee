import torch

from fm4npp_geo.metrics import adjusted_rand_index
from fm4npp_geo.nn.heads.point_classifier import PointClassifier
from fm4npp_geo.nn.heads.query_decoder import QueryTrackDecoder, assign_hits
from fm4npp_geo.tasks.matching import MatchingWeights, set_prediction_loss


def toy_event(seed=0, num_tracks=5, hits_per_track=8, num_noise=6):
    # Hits of a track share a random direction in feature space; noise hits
    # get their own random features.
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(num_tracks, 16, generator=generator) * 2
    particle_id = torch.arange(1, num_tracks + 1).repeat_interleave(hits_per_track)
    features = centres[particle_id - 1] + 0.1 * torch.randn(
        particle_id.numel(), 16, generator=generator)
    noise = torch.randn(num_noise, 16, generator=generator) * 2
    return (torch.cat([features, noise]),
            torch.cat([particle_id, torch.zeros(num_noise, dtype=torch.long)]))


def test_decoder_shapes_and_padding():
    decoder = QueryTrackDecoder(16, hidden_channels=32, num_queries=10)
    hits = torch.randn(2, 7, 16)
    padding = torch.tensor([[False] * 7, [False] * 3 + [True] * 4])
    outputs = decoder(hits, padding)

    assert len(outputs) == 3
    for output in outputs:
        assert output.class_logits.shape == (2, 10, 2)
        assert output.mask_logits.shape == (2, 10, 7)
        assert torch.isfinite(output.class_logits).all()
    labels = assign_hits(outputs[-1], padding, min_score=0.0)
    assert labels.shape == (2, 7)
    assert torch.all(labels[1, 3:] == -1)


def test_decoder_padding_does_not_change_event():
    torch.manual_seed(0)
    decoder = QueryTrackDecoder(16, hidden_channels=32, num_queries=10).eval()
    alone = torch.randn(1, 5, 16)
    padded = torch.cat([alone, torch.randn(1, 3, 16)], dim=1)
    padding = torch.tensor([[False] * 5 + [True] * 3])

    out_alone = decoder(alone, torch.zeros(1, 5, dtype=torch.bool))[-1]
    out_padded = decoder(padded, padding)[-1]
    assert torch.allclose(out_alone.class_logits, out_padded.class_logits, atol=1e-5)
    assert torch.allclose(out_alone.mask_logits, out_padded.mask_logits[..., :5], atol=1e-4)


def test_empty_and_noise_only_events():
    decoder = QueryTrackDecoder(16, hidden_channels=32, num_queries=4)
    weights = MatchingWeights()
    hits = torch.randn(2, 3, 16)
    padding = torch.tensor([[True] * 3, [False] * 3])
    particle_id = torch.zeros(2, 3, dtype=torch.long)
    outputs = decoder(hits, padding)
    loss = set_prediction_loss(outputs[-1], padding, particle_id, weights)

    assert torch.isfinite(loss)
    loss.backward()
    assert torch.all(assign_hits(outputs[-1], padding)[0] == -1)


def test_decoder_overfits_one_event():
    torch.manual_seed(0)
    features, particle_id = toy_event()
    decoder = QueryTrackDecoder(16, hidden_channels=32, num_queries=12,
                                feedforward_channels=64)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=3e-3)
    weights = MatchingWeights()
    hits, padding = features[None], torch.zeros(1, features.shape[0], dtype=torch.bool)
    for _ in range(300):
        outputs = decoder(hits, padding)
        loss = sum(set_prediction_loss(out, padding, particle_id[None], weights)
                   for out in outputs)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    decoder.eval()
    labels = assign_hits(decoder(hits, padding)[-1], padding)[0]
    track_hits = particle_id > 0
    # Noise hits leave the tracks as unassigned (-1), which ARI counts as
    # singletons, so the tracks are scored on their own hits.
    assert adjusted_rand_index(labels[track_hits], particle_id[track_hits]) > 0.99
    assert torch.all(labels[~track_hits] == -1)


def test_point_classifier_probe_and_attention():
    layers = torch.randn(3, 10, 8)
    batch = torch.tensor([0] * 6 + [1] * 4)
    full = PointClassifier(3, 8, num_classes=5, hidden_channels=16)
    probe = PointClassifier(3, 8, num_classes=2, hidden_channels=16,
                            attention_layers=0, mlp_layers=0)

    assert full(layers, batch).shape == (10, 5)
    assert probe(layers, batch).shape == (10, 2)
    # The probe is the layer mix plus one Linear layer.
    assert len(probe.mlp) == 1
