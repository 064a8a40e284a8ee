"""Rates and means binned in a truth quantity (pT, eta), with their uncertainties."""

from __future__ import annotations

import numpy as np

from fm4npp_geo.metrics._inputs import ArrayLike, as_numpy


def _bin_index(values: ArrayLike, edges: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    edges = as_numpy(edges).astype(np.float64).reshape(-1)
    if edges.size < 2 or not (np.diff(edges) > 0).all():
        raise ValueError(f"bin edges must be at least two increasing numbers, got {edges.tolist()}")
    values = as_numpy(values).astype(np.float64).reshape(-1)
    index = np.searchsorted(edges, values, side="right") - 1
    # The last edge closes the last bin, as in numpy.histogram.
    index[values == edges[-1]] = edges.size - 2
    inside = (index >= 0) & (index < edges.size - 1)
    return edges, index, inside


def binned_rate(values: ArrayLike, passed: ArrayLike, edges: ArrayLike) -> dict[str, list[float]]:
    """Bin a pass/fail rate in ``values`` with binomial standard errors.

    Each bin gets ``rate = passed / count`` and ``error = sqrt(rate (1 - rate) / count)``.
    Bins are half-open ``[low, high)`` except the last, which includes its upper
    edge; values outside all bins are dropped. Empty bins have rate and error 0
    and count 0, so a plot can skip them.

    Args:
        values (array [M]): the binned quantity of each entry (truth pT, eta).
        passed (array [M], bool): whether the entry passed.
        edges (array [B + 1]): increasing bin edges.

    Returns:
        dict with ``edges`` [B + 1], ``rate`` [B], ``error`` [B], ``count`` [B].
    """
    edges, index, inside = _bin_index(values, edges)
    flags = as_numpy(passed).astype(np.float64).reshape(-1)
    if flags.shape[0] != index.shape[0]:
        raise ValueError(f"'passed' has {flags.shape[0]} entries but 'values' has {index.shape[0]}")
    num_bins = edges.size - 1
    count = np.bincount(index[inside], minlength=num_bins).astype(np.float64)
    hits = np.bincount(index[inside], weights=flags[inside], minlength=num_bins)
    rate = np.divide(hits, count, out=np.zeros_like(count), where=count > 0)
    error = np.sqrt(np.divide(rate * (1.0 - rate), count, out=np.zeros_like(count), where=count > 0))
    return {"edges": edges.tolist(), "rate": rate.tolist(), "error": error.tolist(), "count": count.astype(int).tolist()}


def binned_mean(values: ArrayLike, samples: ArrayLike, edges: ArrayLike) -> dict[str, list[float]]:
    """Bin the mean of ``samples`` in ``values``, with the standard error of each mean.

    The error is the sample standard deviation over sqrt(count), and 0 for bins
    with fewer than two entries. Binning follows :func:`binned_rate`.

    Returns:
        dict with ``edges`` [B + 1], ``rate`` [B] (the means), ``error`` [B], ``count`` [B].
    """
    edges, index, inside = _bin_index(values, edges)
    data = as_numpy(samples).astype(np.float64).reshape(-1)
    if data.shape[0] != index.shape[0]:
        raise ValueError(f"'samples' has {data.shape[0]} entries but 'values' has {index.shape[0]}")
    num_bins = edges.size - 1
    count = np.bincount(index[inside], minlength=num_bins).astype(np.float64)
    total = np.bincount(index[inside], weights=data[inside], minlength=num_bins)
    squares = np.bincount(index[inside], weights=data[inside] ** 2, minlength=num_bins)
    mean = np.divide(total, count, out=np.zeros_like(count), where=count > 0)
    variance = np.divide(squares - count * mean**2, count - 1, out=np.zeros_like(count), where=count > 1)
    error = np.sqrt(np.maximum(variance, 0.0) / np.maximum(count, 1.0))
    return {"edges": edges.tolist(), "rate": mean.tolist(), "error": error.tolist(), "count": count.astype(int).tolist()}
