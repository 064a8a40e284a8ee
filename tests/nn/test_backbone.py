from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from torch_geometric.data import Batch, Data

from fm4npp_geo.nn import PAPER_PARAMETERS, PRESETS, FM4NPPBackbone
from fm4npp_geo.nn.info import count_parameters

MODEL_CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "model"

SMALL = dict(d_model=16, n_layer=2, d_state=4, headdim=8, chunk_size=4)


def make_backbone(**overrides) -> FM4NPPBackbone:
    torch.manual_seed(0)
    return FM4NPPBackbone(**{**SMALL, **overrides}).eval()


def make_event(order: list[int], seed: int) -> Data:
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(len(order), 4, generator=generator) * 2.0 - 1.0
    return Data(x=x, order=torch.tensor(order))


def test_forward_shapes():
    backbone = make_backbone()
    x = torch.rand(3, 10, 4)

    with torch.no_grad():
        out, layers = backbone(x, return_all_layers=True)

    assert backbone(x).shape == (3, 10, 16)
    assert out.shape == (3, 10, 16)
    assert len(layers) == 2
    assert all(h.shape == (3, 10, 16) for h in layers)
    # The final output is the last block's output after the final norm.
    assert torch.allclose(out, backbone.norm_f(layers[-1]))


def test_forward_batch_maps_back_to_hit_order():
    backbone = make_backbone()
    events = [make_event([3, 0, 4, 1, 2], seed=0), make_event([2, 3, 1, 0], seed=1)]
    batch = Batch.from_data_list(events)

    with torch.no_grad():
        out, layers = backbone.forward_batch(batch, return_all_layers=True)

    assert out.shape == (9, 16)
    assert len(layers) == 2
    offset = 0
    for event in events:
        with torch.no_grad():
            expected, expected_layers = backbone(
                event.x[event.order].unsqueeze(0), return_all_layers=True
            )
        for position, hit in enumerate(event.order.tolist()):
            torch.testing.assert_close(out[offset + hit], expected[0, position])
            torch.testing.assert_close(layers[0][offset + hit], expected_layers[0][0, position])
        offset += event.num_nodes


def test_forward_batch_single_event_without_batch_vector():
    backbone = make_backbone()
    event = make_event([1, 2, 0], seed=2)

    with torch.no_grad():
        out = backbone.forward_batch(event)
        expected = backbone(event.x[event.order].unsqueeze(0))[0]

    assert out.shape == (3, 16)
    torch.testing.assert_close(out[event.order], expected)


def test_hit_output_ignores_other_events():
    backbone = make_backbone()
    event = make_event([4, 2, 0, 1, 3], seed=3)
    short_neighbour = make_event([1, 0], seed=4)
    long_neighbour = make_event(list(range(13))[::-1], seed=5)

    with torch.no_grad():
        with_short = backbone.forward_batch(Batch.from_data_list([event, short_neighbour]))
        with_long = backbone.forward_batch(Batch.from_data_list([long_neighbour, event]))

    torch.testing.assert_close(with_short[:5], with_long[13:], rtol=0.0, atol=1e-6)


def test_forward_batch_with_empty_events():
    backbone = make_backbone()
    event = make_event([2, 0, 1], seed=6)
    empty = Data(x=torch.zeros(0, 4), order=torch.zeros(0, dtype=torch.long))

    with torch.no_grad():
        out = backbone.forward_batch(Batch.from_data_list([empty, event, empty]))
        expected = backbone.forward_batch(event)

    assert out.shape == (3, 16)
    torch.testing.assert_close(out, expected, rtol=0.0, atol=1e-6)
    assert backbone.forward_batch(empty).shape == (0, 16)


def test_forward_batch_requires_features_and_order():
    backbone = make_backbone()
    event = make_event([0, 1], seed=0)

    with pytest.raises(ValueError, match=r"missing \['order'\]. Apply HitFeatures"):
        backbone.forward_batch(Data(x=event.x))
    with pytest.raises(ValueError, match=r"missing \['x', 'order'\]"):
        backbone.forward_batch(Data(pos=torch.rand(2, 3)))


def test_forward_batch_rejects_invalid_order():
    backbone = make_backbone()
    events = [make_event([0, 1, 2], seed=0), make_event([1, 0], seed=1)]

    events[1].order = torch.tensor([0, 2])
    with pytest.raises(ValueError, match=r"outside \[0, event size\)"):
        backbone.forward_batch(Batch.from_data_list(events))

    events[1].order = torch.tensor([1, 1])
    with pytest.raises(ValueError, match="permutation .* repeated indices"):
        backbone.forward_batch(Batch.from_data_list(events))


def test_gradients_flow_through_forward_batch():
    backbone = make_backbone().train()
    batch = Batch.from_data_list([make_event([1, 0, 2], 0), make_event([0, 1], 1)])

    backbone.forward_batch(batch).square().mean().backward()

    for name, param in backbone.named_parameters():
        assert param.grad is not None, name


def test_init_kwargs_rebuild_the_model():
    backbone = make_backbone(dropout=0.1)
    rebuilt = FM4NPPBackbone(**backbone.init_kwargs).eval()
    rebuilt.load_state_dict(backbone.state_dict(), strict=True)
    x = torch.rand(2, 6, 4)

    assert backbone.init_kwargs["dropout"] == 0.1
    with torch.no_grad():
        assert torch.equal(rebuilt(x), backbone(x))


def test_m1_parameter_count():
    backbone = FM4NPPBackbone(**PRESETS["m1"])

    # Per block: in_proj 64 * (128 + 160 + 2), conv1d 160 * 5, dt_bias + A_log + D 6,
    # gated norm 128, out_proj 128 * 64, block RMSNorm 64; plus the final norm.
    per_block = 64 * 290 + 160 * 5 + 6 + 128 + 128 * 64 + 64
    assert backbone.num_parameters() == 12 * per_block + 64
    # The FM4NPP paper lists about 0.34M parameters for m1.
    assert abs(backbone.num_parameters() - 0.34e6) / 0.34e6 < 0.05


def test_learnable_embedding_adds_parameters():
    fixed = make_backbone()
    learnable = make_backbone(learnable_embedding=True)

    assert learnable.num_parameters() - fixed.num_parameters() == 16 + 16 * 60


def test_invalid_n_layer_raises():
    with pytest.raises(ValueError, match="positive 'n_layer', got 0"):
        FM4NPPBackbone(n_layer=0)


def test_forward_accepts_a_batch():
    backbone = make_backbone()
    batch = Batch.from_data_list([make_event([2, 0, 1], 0), make_event([1, 0], 1)])

    with torch.no_grad():
        torch.testing.assert_close(backbone(batch), backbone.forward_batch(batch))


def test_forward_batch_rejects_unsorted_batch_vector():
    backbone = make_backbone()
    batch = Batch.from_data_list([make_event([0, 1], 0), make_event([1, 0], 1)])
    batch.batch = torch.tensor([0, 1, 0, 1])

    with pytest.raises(ValueError, match="sorted 'batch' vector"):
        backbone.forward_batch(batch)


def test_forward_rejects_mask_with_seq_idx():
    backbone = make_backbone()
    x = torch.rand(1, 4, 4)

    with pytest.raises(ValueError, match="either 'mask' .* or 'seq_idx'"):
        backbone(x, mask=torch.ones(1, 4, dtype=torch.bool), seq_idx=torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"'mask' of shape \(1, 4\), got \(1, 3\)"):
        backbone(x, mask=torch.ones(1, 3, dtype=torch.bool))


def test_bidirectional_forward_batch_keeps_events_apart():
    backbone = make_backbone(bidirectional=True).double()
    event = make_event([4, 2, 0, 1, 3], seed=3)
    event.x = event.x.double()
    neighbour = make_event(list(range(9))[::-1], seed=5)
    neighbour.x = neighbour.x.double()

    with torch.no_grad():
        alone = backbone.forward_batch(event)
        batched = backbone.forward_batch(Batch.from_data_list([neighbour, event]))
        reordered = backbone(event.x[event.order].unsqueeze(0))[0]

    torch.testing.assert_close(batched[9:], alone, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(alone[event.order], reordered, rtol=1e-12, atol=1e-12)


def test_bidirectional_padded_forward_with_mask_matches_alone():
    backbone = make_backbone(bidirectional=True).double()
    lengths = [2, 7, 5]
    sequences = [torch.rand(n, 4, dtype=torch.float64) for n in lengths]
    padded = torch.stack([F.pad(s, (0, 0, 0, 7 - len(s))) for s in sequences])
    mask = torch.arange(7) < torch.tensor(lengths).unsqueeze(1)

    with torch.no_grad():
        out, layers = backbone(padded, return_all_layers=True, mask=mask)
        for row, seq in enumerate(sequences):
            alone, alone_layers = backbone(seq.unsqueeze(0), return_all_layers=True)
            torch.testing.assert_close(out[row, : len(seq)], alone[0], rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(
                layers[0][row, : len(seq)], alone_layers[0][0], rtol=1e-12, atol=1e-12
            )


def test_bfloat16_autocast_stays_close_to_float32():
    backbone = make_backbone()
    batch = Batch.from_data_list([make_event(list(range(30))[::-1], 0), make_event([1, 0, 2], 1)])

    with torch.no_grad():
        expected = backbone(batch)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            actual = backbone(batch)

    error = (actual.float() - expected).norm() / expected.norm()
    assert error < 3e-2


def test_init_kwargs_hold_new_options():
    backbone = make_backbone(bidirectional=True, ngroups=2, scan="torch")
    rebuilt = FM4NPPBackbone(**backbone.init_kwargs)

    assert backbone.init_kwargs["bidirectional"] is True
    assert backbone.init_kwargs["ngroups"] == 2
    assert backbone.init_kwargs["scan"] == "torch"
    rebuilt.load_state_dict(backbone.state_dict(), strict=True)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_parameter_count_near_paper(name):
    total = count_parameters(PRESETS[name])["total"]

    assert abs(total - PAPER_PARAMETERS[name]) / PAPER_PARAMETERS[name] < 0.05


def test_count_parameters_matches_built_model():
    for name in ["m1", "m2"]:
        built = FM4NPPBackbone(**PRESETS[name])
        counts = count_parameters(PRESETS[name])

        assert counts["total"] == built.num_parameters()
        assert sum(v for k, v in counts.items() if k != "total") == counts["total"]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_model_config_matches_preset(name):
    config = yaml.safe_load((MODEL_CONFIGS / f"{name}.yaml").read_text())

    assert config == {**PRESETS[name], "bidirectional": False, "scan": "auto"}


def test_model_configs_build():
    for path in sorted(MODEL_CONFIGS.glob("*.yaml")):
        config = yaml.safe_load(path.read_text())
        with torch.device("meta"):
            FM4NPPBackbone(**config)
