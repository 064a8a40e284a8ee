"""Parameter counts of backbone configurations, for ``fm4npp-geo model-info``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from fm4npp_geo.nn.backbone import FM4NPPBackbone
from fm4npp_geo.nn.presets import PAPER_PARAMETERS, PRESETS

__all__ = ["count_parameters", "format_model_info"]

# Reported part of each Mamba2 parameter, by the module name after "mixer.".
_MIXER_PARTS = {
    "in_proj": "in_proj",
    "conv1d": "conv1d",
    "dt_bias": "dt_bias, A_log, D",
    "A_log": "dt_bias, A_log, D",
    "D": "dt_bias, A_log, D",
    "norm": "gated norm",
    "out_proj": "out_proj",
}
_PARTS = ("embedding", "block norm", *dict.fromkeys(_MIXER_PARTS.values()), "norm_f")


def count_parameters(backbone_kwargs: Mapping[str, Any]) -> dict[str, int]:
    """Count the trainable parameters of a backbone configuration, by part.

    The model is built on the meta device, so even m6 allocates no memory.

    Args:
        backbone_kwargs (Mapping): Keyword arguments of
            :class:`~fm4npp_geo.nn.FM4NPPBackbone`.

    Returns:
        A dict with the total (``"total"``), the trainable embedding
        (``"embedding"``, 0 when it is frozen), the final norm (``"norm_f"``)
        and, summed over all blocks, each part of a block.
    """
    with torch.device("meta"):
        model = FM4NPPBackbone(**backbone_kwargs)

    counts = {"total": 0, **{part: 0 for part in _PARTS}}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        counts["total"] += param.numel()
        counts[_part_of(name)] += param.numel()
    return counts


def _part_of(name: str) -> str:
    # Names look like "embedding.coord_weight", "norm_f.weight",
    # "layers.3.norm.weight" or "layers.3.mixer.in_proj.weight".
    parts = name.split(".")
    if parts[0] in ("embedding", "norm_f"):
        return parts[0]
    if parts[0] == "layers" and parts[2] == "norm":
        return "block norm"
    if parts[0] == "layers" and parts[2] in ("mixer", "mixer_reverse"):
        return _MIXER_PARTS[parts[3]]
    raise ValueError(f"Parameter {name!r} belongs to no reported part")


def _millions(count: float) -> str:
    return f"{count / 1e6:.2f}M" if count < 10e6 else f"{count / 1e6:.1f}M"


def format_model_info(model: Mapping[str, Any] | None = None) -> str:
    """Return a table of the presets' parameter counts beside the FM4NPP paper's, and a breakdown of ``model``.

    Args:
        model (Mapping, optional): Keyword arguments of
            :class:`~fm4npp_geo.nn.FM4NPPBackbone` to break down after the
            table, e.g. the composed ``model`` hydra config.
            (default: :obj:`None`)
    """
    lines = [
        "FM4NPP presets: 12 Mamba2 blocks, expand 2, headdim 64, d_conv 4. Trainable",
        "parameters (the frozen random-projection embedding has none).",
        "",
        f"{'preset':<7}{'d_model':>8}{'d_state':>8}{'ngroups':>8}{'nheads':>7}"
        f"{'parameters':>13}{'paper':>8}{'deviation':>11}",
    ]
    for name, kwargs in PRESETS.items():
        total = count_parameters(kwargs)["total"]
        paper = PAPER_PARAMETERS[name]
        nheads = kwargs["expand"] * kwargs["d_model"] // kwargs["headdim"]
        lines.append(
            f"{name:<7}{kwargs['d_model']:>8}{kwargs['d_state']:>8}{kwargs['ngroups']:>8}"
            f"{nheads:>7}{total:>13,}{_millions(paper):>8}{(total - paper) / paper:>+10.1%}"
        )
    lines += [
        "",
        "d_state convention: the paper gives no state size. d_state 16 per group with",
        "ngroups = d_model / 64 (B and C together d_model / 4 wide) reproduces its counts;",
        "d_state 16 with one group would leave m3 at 4.88M, 7.9% below the paper.",
    ]

    if model is not None:
        counts = count_parameters(model)
        settings = ", ".join(f"{key}={value}" for key, value in model.items())
        lines += ["", f"Composed model: {settings}", f"  total {counts['total']:,}"]
        for part, count in counts.items():
            if part != "total":
                lines.append(f"  {part:<18}{count:>13,}")
    return "\n".join(lines)
