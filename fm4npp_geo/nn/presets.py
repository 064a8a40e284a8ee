"""The FM4NPP backbone presets m1 to m6 and the parameter counts published for them.

The FM4NPP paper (arXiv 2508.14087) gives widths 64, 128, 256, 512, 1024 and
1536 with 12 blocks, expand 2, head dimension 64 and convolution width 4, and
about 0.34M, 1.3M, 5.3M, 21M, 84M and 188M parameters. It does not give the
state size. With mamba-ssm's Mamba2 layout a block has
:math:`6 d^2 + 2 G N (d + 5) + H (d + 3) + 13 d` parameters (width :math:`d`,
``ngroups`` :math:`G`, ``d_state`` :math:`N`, :math:`H = d / 32` heads), and
the published counts need :math:`G N \\approx d / 4`. The presets use
``d_state = 16`` per group with ``ngroups = d / 64`` (one group for m1),
which keeps the per-head state as small as in the FM4NPP public code and
lands within 2.2% of every published count. ``d_state = 16`` with a single
group, as in that code's width-256 configuration, would give m3 4.88M
parameters, 7.9% below the paper.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PAPER_PARAMETERS", "PRESETS", "preset"]

#: Parameter counts of the FM4NPP paper, per preset.
PAPER_PARAMETERS: dict[str, float] = {
    "m1": 0.34e6,
    "m2": 1.3e6,
    "m3": 5.3e6,
    "m4": 21e6,
    "m5": 84e6,
    "m6": 188e6,
}

_WIDTHS = {"m1": 64, "m2": 128, "m3": 256, "m4": 512, "m5": 1024, "m6": 1536}


def _backbone_kwargs(d_model: int) -> dict[str, Any]:
    return dict(
        d_model=d_model,
        n_layer=12,
        d_state=16,
        ngroups=max(1, d_model // 64),
        headdim=64,
        expand=2,
        d_conv=4,
        chunk_size=256,
        dropout=0.0,
    )


#: Keyword arguments of :class:`~fm4npp_geo.nn.FM4NPPBackbone` per preset. The
#: hydra configs ``configs/model/m1.yaml`` to ``m6.yaml`` hold the same values.
PRESETS: dict[str, dict[str, Any]] = {
    name: _backbone_kwargs(width) for name, width in _WIDTHS.items()
}


def preset(name: str, **overrides: Any) -> dict[str, Any]:
    """Return a copy of the keyword arguments of preset ``name`` with ``overrides`` applied."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}. Choose one of {sorted(PRESETS)}")
    return {**PRESETS[name], **overrides}
