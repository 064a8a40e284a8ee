"""Optimizer and learning-rate schedule of FM4NPP pretraining."""

from __future__ import annotations

import math

import torch
from torch import nn

# Parameters that are not weight matrices (norm weights, biases, the SSM's A_log,
# D and dt_bias) are excluded from weight decay, as in common Mamba and GPT set-ups.
_NO_DECAY_NAMES = ("A_log", "D", "dt_bias")


def build_optimizer(
    model: nn.Module,
    lr: float = 2e-4,
    weight_decay: float = 0.1,
    betas: tuple[float, float] = (0.9, 0.95),
) -> torch.optim.AdamW:
    """Build AdamW with weight decay on weight matrices only.

    Defaults are the FM4NPP pretraining values: AdamW (0.9, 0.95), weight decay
    0.1, learning rate 2e-4.
    """
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if parameter.dim() < 2 or name.rsplit(".", 1)[-1] in _NO_DECAY_NAMES:
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def warmup_cosine(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_steps: int,
    min_lr_ratio: float = 0.1,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Return a schedule with linear warmup, then cosine decay to ``min_lr_ratio``."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"warmup_steps must be in [0, {total_steps}], got {warmup_steps}")

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
        return min_lr_ratio + (1.0 - min_lr_ratio) * cosine

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
