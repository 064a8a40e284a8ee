"""Lazy access to the fused CUDA kernels of mamba-ssm and causal-conv1d.

Importing mamba-ssm takes seconds and fails on machines without its compiled
CUDA extension, so nothing here imports it at module load. The first call of
:func:`load_fused_kernels` tries once and caches the outcome. The calls follow
mamba-ssm 2.2 (``mamba_ssm.ops.triton.ssd_combined.mamba_chunk_scan_combined``)
and causal-conv1d 1.4 (``causal_conv1d.causal_conv1d_fn``).
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

__all__ = ["FusedKernels", "fused_kernels_error", "load_fused_kernels"]

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'fm4npp-geo[cuda]' (mamba-ssm and causal-conv1d, CUDA only)"


@dataclass(frozen=True)
class FusedKernels:
    """The fused functions the Mamba2 layer calls on CUDA tensors.

    Attributes:
        chunk_scan: ``mamba_chunk_scan_combined(x, dt, A, B, C, chunk_size,
            D=..., dt_bias=..., dt_softplus=..., seq_idx=...)`` of mamba-ssm.
        causal_conv1d: ``causal_conv1d_fn(x, weight, bias, seq_idx=...,
            activation=...)`` of causal-conv1d, or :obj:`None` when that package
            is missing (the layer then runs its own convolution).
        version: Installed mamba-ssm version.
    """

    chunk_scan: Callable
    causal_conv1d: Callable | None
    version: str


_kernels: FusedKernels | None = None
_error: str | None = None
_attempted = False
_fallback_warned = False


def load_fused_kernels() -> FusedKernels | None:
    """Import the fused kernels on first use and return them, or :obj:`None`.

    The import is tried once per process. Why it failed is available from
    :func:`fused_kernels_error`.
    """
    global _kernels, _error, _attempted
    if _attempted:
        return _kernels
    _attempted = True

    try:
        ssd_combined = importlib.import_module("mamba_ssm.ops.triton.ssd_combined")
    except (ImportError, OSError, RuntimeError) as error:
        # A missing package raises ImportError, a CUDA extension built for
        # another torch raises ImportError or OSError, Triton RuntimeError.
        _error = f"{type(error).__name__}: {error}"
        logger.info("mamba-ssm fused kernels unavailable (%s)", _error)
        return None

    try:
        conv_module = importlib.import_module("causal_conv1d")
        causal_conv1d = conv_module.causal_conv1d_fn
    except (ImportError, OSError, RuntimeError, AttributeError) as error:
        logger.info("causal-conv1d unavailable (%s): the convolution runs in PyTorch", error)
        causal_conv1d = None

    try:
        version = metadata.version("mamba-ssm")
    except metadata.PackageNotFoundError:
        version = "unknown"
    _kernels = FusedKernels(ssd_combined.mamba_chunk_scan_combined, causal_conv1d, version)
    logger.info("Loaded mamba-ssm %s fused kernels", version)
    return _kernels


def fused_kernels_error() -> str | None:
    """Return why the fused kernels could not be imported, or :obj:`None`."""
    return _error


def warn_fallback_once(reason: str | None) -> None:
    """Warn, once per process, that CUDA tensors run the pure-PyTorch scan because of ``reason``."""
    global _fallback_warned
    if _fallback_warned:
        return
    _fallback_warned = True
    warnings.warn(
        f"Mamba2 runs its pure-PyTorch scan on CUDA because the fused kernels could "
        f"not be imported ({reason}). Results are the same but slower. Install "
        f"them with {INSTALL_HINT}.",
        RuntimeWarning,
        stacklevel=3,
    )
