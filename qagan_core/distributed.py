"""Several processes under torchrun (torch.distributed): joining, rank helpers, agreement.

``setup()`` joins the process group that torchrun describes in the environment
(``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``):
NCCL with one CUDA GPU per process (``cuda:LOCAL_RANK``), Gloo on CPUs. Without
torchrun, or with a single process, it returns None and the caller runs as one
process, exactly as before. Nothing here runs at import.

Every method of ``Distributed`` that communicates is a collective: all
processes must call it, in the same order.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .devices import pick_device
from .errors import QAGANError


def world_size_from_env() -> int:
    """The number of processes torchrun started (1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def launched() -> bool:
    """True in a process that torchrun started as one of several."""
    return world_size_from_env() > 1


def rank_from_env() -> int:
    return int(os.environ.get("RANK", "0"))


def restarted() -> bool:
    """True when torchrun restarted the workers (``--max-restarts``, a changed membership)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0


@dataclass
class Distributed:
    """This process's place in the group, and the few collectives the package needs."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and prints."""
        return self.rank == 0

    def _reduce(self, values: list[float], op: dist.ReduceOp.RedOpType) -> list[float]:
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=op)
        return t.tolist()

    def any(self, flag: bool) -> bool:
        """True on every process if ``flag`` is true on any (e.g. a stop request)."""
        return self._reduce([1.0 if flag else 0.0], dist.ReduceOp.MAX)[0] > 0

    def max(self, value: float) -> float:
        return self._reduce([value], dist.ReduceOp.MAX)[0]

    def mean(self, values: list[float]) -> list[float]:
        """Element-wise mean over the processes (NaN anywhere gives NaN everywhere)."""
        return [v / self.world_size for v in self._reduce(values, dist.ReduceOp.SUM)]

    def global_mean(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of ``x`` over all processes' elements, with gradient (same shape on every process).

        The backward pass all-reduces too, so under DistributedDataParallel the averaged
        gradients equal those of one process holding the whole global batch.
        """
        return _SumOverProcesses.apply(x.mean()) / self.world_size

    def broadcast_parameters(self, module: nn.Module) -> None:
        """Copy rank 0's parameters of ``module`` to every process."""
        with torch.no_grad():
            for p in module.parameters():
                dist.broadcast(p.data, src=0)

    def wrap(self, module: nn.Module, exclude: nn.Module | None = None) -> nn.Module:
        """``module`` under DistributedDataParallel; the parameters of ``exclude`` (a submodule
        trained otherwise) are left out of the gradient averaging."""
        frozen = [p for p in exclude.parameters() if p.requires_grad] if exclude is not None else []
        for p in frozen:  # DDP averages the gradients of the parameters that require them now
            p.requires_grad_(False)
        try:
            ids = [self.device.index] if self.device.type == "cuda" else None
            return DistributedDataParallel(module, device_ids=ids)
        finally:
            for p in frozen:
                p.requires_grad_(True)

    def gather(self, obj: Any) -> list[Any]:
        """``obj`` of every process, in rank order, on every process (picklable objects)."""
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def same_everywhere(self, text: str) -> bool:
        """True if every process holds the same ``text`` (compared by digest)."""
        digest = hashlib.sha256(text.encode()).hexdigest()
        return len(set(self.gather(digest))) == 1

    def shard(self, items: list[Any]) -> list[Any]:
        """This process's share of ``items``: every ``world_size``-th from its rank (each item
        goes to exactly one process; sizes differ by at most one)."""
        return items[self.rank :: self.world_size]

    def barrier(self) -> None:
        dist.barrier()


class _SumOverProcesses(torch.autograd.Function):
    """Sum over the processes; the gradient is summed over them too (each process's loss
    depends on every process's input)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        y = x.clone()
        dist.all_reduce(y, op=dist.ReduceOp.SUM)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


def setup(device_name: str | None = "auto") -> Distributed | None:
    """Join torchrun's process group; None when this is the only process."""
    world = world_size_from_env()
    if world <= 1:
        return None
    if not dist.is_available():
        raise QAGANError("this PyTorch build has no torch.distributed: run without torchrun")
    rank = rank_from_env()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    device = pick_device(device_name or "auto")
    if device.type == "cuda":
        gpus = torch.cuda.device_count()
        if local_rank >= gpus:
            raise QAGANError(f"process {rank} (local rank {local_rank}) has no GPU of its own: this "
                             f"node has {gpus}; start at most {gpus} processes per node "
                             "(--nproc-per-node), or pass --device cpu")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise QAGANError(f"torchrun runs on CUDA GPUs (NCCL) or on CPUs (Gloo), not on {device}: "
                         "run without torchrun, or pass --device cpu")
    if not dist.is_initialized():
        try:
            dist.init_process_group(backend, device_id=device if device.type == "cuda" else None)
        except (RuntimeError, ValueError) as exc:
            raise QAGANError(f"cannot join the torchrun process group ({backend}, rank {rank} of "
                             f"{world}): {exc}") from exc
    return Distributed(rank, world, local_rank, local_world, device)


def shutdown(group: Distributed | None) -> None:
    """Leave the process group (after the last collective)."""
    if group is not None and dist.is_initialized():
        dist.destroy_process_group()
