"""Conversion and checks shared by the per-hit metric functions."""

from __future__ import annotations

import numpy as np
from torch import Tensor

ArrayLike = np.ndarray | Tensor


def as_label_array(values: ArrayLike, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D int64 NumPy array, or raise ValueError."""
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"'{name}' must be one label per hit (1-D), got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"'{name}' must hold integer labels, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def check_same_length(track_id: np.ndarray, particle_id: np.ndarray) -> None:
    """Raise ValueError unless predictions and truth have one entry per hit each."""
    if track_id.shape != particle_id.shape:
        raise ValueError(
            f"'track_id' has {track_id.shape[0]} hits but 'particle_id' has "
            f"{particle_id.shape[0]}; pass one predicted label per truth hit"
        )


def check_predicted_labels(track_id: np.ndarray, unassigned: int | None) -> None:
    """Raise ValueError on negative predicted labels other than ``unassigned``."""
    negative = track_id < 0
    if unassigned is not None:
        negative &= track_id != unassigned
    if negative.any():
        bad = int(track_id[negative][0])
        raise ValueError(
            f"predicted track label {bad} is negative; labels must be >= 0, "
            f"or declare the marker of unassigned hits with unassigned={bad}"
        )
