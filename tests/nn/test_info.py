import pytest

from fm4npp_geo.cli import main
from fm4npp_geo.nn import PRESETS, preset
from fm4npp_geo.nn.info import count_parameters, format_model_info


def test_count_parameters_by_part_for_m1():
    counts = count_parameters(PRESETS["m1"])

    # Per block: in_proj 64 * 290, conv1d 160 * 5, 2 + 2 + 2, gated norm 128,
    # out_proj 128 * 64, block norm 64; 12 blocks and the final norm 64.
    assert counts["in_proj"] == 12 * 64 * 290
    assert counts["conv1d"] == 12 * 160 * 5
    assert counts["dt_bias, A_log, D"] == 12 * 6
    assert counts["gated norm"] == 12 * 128
    assert counts["out_proj"] == 12 * 128 * 64
    assert counts["block norm"] == 12 * 64
    assert counts["norm_f"] == 64
    assert counts["embedding"] == 0
    assert counts["total"] == 333_064


def test_count_parameters_learnable_embedding_and_bidirectional():
    plain = count_parameters(preset("m1"))
    counts = count_parameters(preset("m1", learnable_embedding=True, bidirectional=True))

    assert counts["embedding"] == 64 + 64 * 60
    assert counts["in_proj"] == 2 * plain["in_proj"]
    assert counts["block norm"] == plain["block norm"]


def test_format_model_info_lists_presets():
    text = format_model_info(preset("m3", n_layer=2))

    lines = text.splitlines()
    m1_row = next(line for line in lines if line.startswith("m1 "))
    assert m1_row.split() == ["m1", "64", "16", "1", "2", "333,064", "0.34M", "-2.0%"]
    assert any(line.startswith("m6 ") for line in lines)
    assert "d_state convention" in text
    assert "Composed model: d_model=256, n_layer=2" in text


def test_unknown_preset_raises():
    with pytest.raises(ValueError, match="Unknown preset 'm7'"):
        preset("m7")


def test_cli_model_info(capsys):
    assert main(["model-info", "model=m2", "model.n_layer=1"]) == 0

    output = capsys.readouterr().out
    assert "m4 " in output
    assert "Composed model: d_model=128, n_layer=1" in output
