"""Training loop, pretraining, the FM4NPP track finder and checkpoint files."""

from fm4npp_geo.training.checkpoint import load_checkpoint, save_checkpoint
from fm4npp_geo.training.loop import train_steps
from fm4npp_geo.training.optim import build_optimizer, warmup_cosine
from fm4npp_geo.training.pretrain import load_backbone, pretrain_backbone, save_backbone
from fm4npp_geo.training.tracker import FM4NPPTracker

__all__ = [
    "FM4NPPTracker",
    "build_optimizer",
    "load_backbone",
    "load_checkpoint",
    "pretrain_backbone",
    "save_backbone",
    "save_checkpoint",
    "train_steps",
    "warmup_cosine",
]
