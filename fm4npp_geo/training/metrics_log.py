"""Per-step training records: a CSV file, and TensorBoard when it is installed."""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

from fm4npp_geo.fileio import atomic_open

logger = logging.getLogger(__name__)

COLUMNS = ("step", "epoch", "loss", "lr", "grad_norm", "events", "hits", "seconds", "hits_per_second")


class TrainingLog:
    """Append one row per logged step to ``<folder>/metrics.csv``.

    The rows carry :data:`COLUMNS`. When TensorBoard is installed, the loss,
    learning rate, gradient norm and throughput also go to an event file in
    ``<folder>/tensorboard``. Resuming at step ``s`` first removes the rows
    after ``s``, which a killed run may have written after its last checkpoint.

    Args:
        folder (str or Path): where the files go.
        resume_step (int, optional): keep the rows up to this step of an
            existing file instead of starting a new one. (default: :obj:`None`)
    """

    def __init__(self, folder: str | Path, resume_step: int | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "metrics.csv"
        kept: list[dict[str, str]] = []
        if resume_step is not None and self.path.is_file():
            with self.path.open(newline="", encoding="utf-8") as file:
                kept = [row for row in csv.DictReader(file) if int(row["step"]) <= resume_step]
        # The kept rows replace the file atomically, so a process killed now
        # leaves the old rows or the kept ones, never an empty file.
        with atomic_open(self.path, "w", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(kept)
        self._file = self.path.open("a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._file, fieldnames=COLUMNS)
        self._tensorboard = self._open_tensorboard()

    def _open_tensorboard(self):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            logger.info("TensorBoard is not installed; training metrics go to %s only", self.path)
            return None
        return SummaryWriter(str(self.folder / "tensorboard"))

    def write(self, row: dict[str, float | int]) -> None:
        """Append one row; keys are :data:`COLUMNS`."""
        self._writer.writerow({name: row.get(name, "") for name in COLUMNS})
        self._file.flush()
        if self._tensorboard is not None:
            for name in ("loss", "lr", "grad_norm", "hits_per_second"):
                value = row.get(name)
                if value is not None and math.isfinite(value):
                    self._tensorboard.add_scalar(f"train/{name}", value, int(row["step"]))

    def close(self) -> None:
        """Flush and close the files."""
        self._file.close()
        if self._tensorboard is not None:
            self._tensorboard.close()
