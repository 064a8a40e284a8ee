"""Settings of the training loop."""

from __future__ import annotations

from dataclasses import dataclass

PRECISIONS = ("auto", "fp32", "bf16")


@dataclass
class TrainerConfig:
    """Settings of :class:`Trainer`; the optimizer defaults are those of FM4NPP pretraining.

    Attributes:
        steps: optimizer steps to train for, counting skipped steps.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW weight decay on weight matrices.
        betas: AdamW moment decay rates.
        warmup_fraction: share of the steps with a linear learning-rate warmup.
        min_lr_ratio: final learning rate over ``lr`` after the cosine decay.
        grad_clip: largest gradient norm; 0 turns clipping off.
        max_hits: maximum number of hits in a global batch (all processes together).
        max_events: maximum number of events in a global batch.
        bucket_by_length: batch events of similar hit counts together.
        drop_last: drop an epoch's last batch when it reached neither cap.
        locality: keep batches within runs of this many event indices.
        seed: seed of the batch order and of the global generators.
        precision: "bf16" autocast, "fp32", or "auto" (bf16 on CUDA, fp32 on the CPU).
        checkpoint_dir: folder of the step checkpoints; None writes none.
        checkpoint_every: steps between checkpoints; 0 writes one at the end only.
        keep_checkpoints: newest checkpoints kept on disk.
        resume: continue from the newest checkpoint in ``checkpoint_dir``.
        log_dir: folder of ``metrics.csv`` (and TensorBoard files); None logs to the console only.
        log_every: steps between logged rows.
        num_workers: data-loader worker processes.
        progress: show a progress bar (rank 0 only).
        description: name of the run in logs and the progress bar.
    """

    steps: int = 1000
    lr: float = 2e-4
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_fraction: float = 0.05
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    max_hits: int | None = None
    max_events: int | None = 8
    bucket_by_length: bool = True
    drop_last: bool = False
    locality: int | None = None
    seed: int = 0
    precision: str = "auto"
    checkpoint_dir: str | None = None
    checkpoint_every: int = 0
    keep_checkpoints: int = 2
    resume: bool = False
    log_dir: str | None = None
    log_every: int = 1
    num_workers: int = 0
    progress: bool = False
    description: str = "train"

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if not 0.0 <= self.warmup_fraction <= 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1], got {self.warmup_fraction}")
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip must be >= 0 (0 turns clipping off), got {self.grad_clip}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.checkpoint_every < 0 or self.log_every < 1 or self.keep_checkpoints < 1:
            raise ValueError(
                "checkpoint_every must be >= 0, log_every >= 1 and keep_checkpoints >= 1, got "
                f"{self.checkpoint_every}, {self.log_every} and {self.keep_checkpoints}"
            )
        if self.resume and self.checkpoint_dir is None:
            raise ValueError("resume=True needs a checkpoint_dir to resume from")
        self.betas = tuple(self.betas)
