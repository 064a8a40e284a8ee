"""Process-group set-up for data-parallel training under ``torchrun``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedContext:
    """Rank, process count and device of this process in data-parallel training.

    Attributes:
        rank: index of this process, 0 to ``world_size - 1``.
        world_size: number of processes; 1 without a process group.
        device: the device this process computes on.
    """

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Whether this process logs and writes files (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether gradients and statistics are exchanged between processes."""
        return self.world_size > 1


def default_device(local_rank: int = 0) -> torch.device:
    """Return ``cuda:local_rank`` when CUDA is available, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def current_context(device: torch.device | None = None) -> DistributedContext:
    """Describe this process from the initialized process group, if any."""
    if dist.is_available() and dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
        return DistributedContext(rank, world_size, device or default_device(local_rank))
    return DistributedContext(device=device or default_device())


def init_distributed(backend: str | None = None, init_method: str = "env://") -> DistributedContext:
    """Join the process group described by ``torchrun``'s environment variables.

    ``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``
    and ``MASTER_PORT``. Without ``WORLD_SIZE`` > 1 this is a single process
    and no group is created. The backend is NCCL on CUDA and gloo on the CPU
    unless given.

    Returns:
        The context of this process.
    """
    if dist.is_initialized():
        return current_context()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return current_context()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    device = default_device(local_rank)
    backend = backend or ("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world_size)
    logger.info("joined process group: rank %d of %d, backend %s, device %s", rank, world_size, backend, device)
    return DistributedContext(rank, world_size, device)


def all_reduce_sum(value: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    """Return the sum of ``value`` over all processes (``value`` itself without a group)."""
    if not context.distributed:
        return value
    total = value.clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total


def all_gather_objects(value: Any, context: DistributedContext) -> list[Any]:
    """Return ``value`` from every process, in rank order."""
    if not context.distributed:
        return [value]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def barrier(context: DistributedContext) -> None:
    """Wait for every process; a no-op without a process group."""
    if context.distributed:
        dist.barrier()


def close_distributed(context: DistributedContext) -> None:
    """Leave the process group, if there is one."""
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()
