"""Training loop, pretraining, the FM4NPP track finder and checkpoint files."""

from fm4npp_geo.training.checkpoint import load_checkpoint, save_checkpoint
from fm4npp_geo.training.distributed import DistributedContext, init_distributed
from fm4npp_geo.training.loop import train_steps
from fm4npp_geo.training.optim import build_optimizer, warmup_cosine
from fm4npp_geo.training.pretrain import load_backbone, pretrain_backbone, save_backbone
from fm4npp_geo.training.pretrain_run import run_pretraining
from fm4npp_geo.training.sampler import HitBudgetBatches
from fm4npp_geo.training.tracker import FM4NPPTracker
from fm4npp_geo.training.trainer import Trainer, TrainerConfig

__all__ = [
    "DistributedContext",
    "FM4NPPTracker",
    "HitBudgetBatches",
    "Trainer",
    "TrainerConfig",
    "build_optimizer",
    "init_distributed",
    "load_backbone",
    "load_checkpoint",
    "pretrain_backbone",
    "run_pretraining",
    "save_backbone",
    "save_checkpoint",
    "train_steps",
    "warmup_cosine",
]
