"""Conversion and checks shared by the per-hit metric functions."""

from __future__ import annotations

import numpy as np
from torch import Tensor

ArrayLike = np.ndarray | Tensor


def as_numpy(values: ArrayLike) -> np.ndarray:
    """Return ``values`` as a NumPy array, moving a tensor to the CPU first."""
    if isinstance(values, Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def as_label_array(values: ArrayLike, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D int64 NumPy array, or raise ValueError."""
    array = as_numpy(values)
    if array.ndim != 1:
        raise ValueError(f"'{name}' must be one label per hit (1-D), got shape {array.shape}")
    if array.dtype == bool:
        return array.astype(np.int64)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"'{name}' must hold integer labels, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def as_value_array(values: ArrayLike, name: str, size: int) -> np.ndarray:
    """Return per-hit values as a float64 array of ``size`` entries, or raise ValueError."""
    array = as_numpy(values).astype(np.float64, copy=False).reshape(-1)
    if array.shape[0] != size:
        raise ValueError(f"'{name}' has {array.shape[0]} entries but the event has {size} hits")
    return array


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


def check_truth_labels(particle_id: np.ndarray) -> None:
    """Raise ValueError on negative truth particle ids (0 is noise, others are particles)."""
    if particle_id.size and particle_id.min() < 0:
        raise ValueError(
            f"truth 'particle_id' must be >= 0 (0 for noise), got {int(particle_id.min())}"
        )


def split_unassigned(track_id: np.ndarray, unassigned: int | None) -> np.ndarray:
    """Give every unassigned hit a fresh label of its own, so it forms a one-hit track.

    The fresh labels follow the largest assigned label, so they never collide
    with a predicted track. Returns a new array when anything changed.
    """
    if unassigned is None:
        return track_id
    alone = track_id == unassigned
    if not alone.any():
        return track_id
    relabeled = track_id.copy()
    first = int(track_id[~alone].max()) + 1 if (~alone).any() else 0
    relabeled[alone] = first + np.arange(int(alone.sum()), dtype=np.int64)
    return relabeled
