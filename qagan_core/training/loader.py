"""Training batches by step: shared out between processes, loaded on DataLoader workers.

The global batch of step t is a function of (seed, t) alone. In each domain the
photos are visited in a new random order every epoch (each photo once per
epoch, as with torch's DistributedSampler); global batch slot j of step t takes
position t * B + j of that sequence, and its crop and flip come from a
generator seeded with (seed, domain, t, j). The low and high domains have
orders of their own, so the unpaired pairs change every step. Process r of W
computes slots r * B/W to (r + 1) * B/W - 1 of every step.

So the batches depend neither on the number of processes nor on the number of
workers: a run resumed with another number of processes continues the same
sequence, and a DistributedDataParallel step sees the global batch one process
would. (torch's DistributedSampler deals the photos out by rank instead, rank
r taking every W-th, which makes the global batch depend on W.)
"""

from __future__ import annotations

import copy
import itertools
import os
import random
import time

import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

from .data import ImageFolder

DOMAINS = ("low", "high")


class StepBatches(Dataset):
    """Item ``step``: this process's ``(low, high)`` share of the global batch of that step."""

    def __init__(self, low: ImageFolder, high: ImageFolder, batch_size: int, seed: int,
                 rank: int = 0, world_size: int = 1) -> None:
        if batch_size % world_size:
            raise ValueError(f"batch size {batch_size} is not a multiple of {world_size} processes")
        self.low, self.high = low, high
        self.batch_size = batch_size
        self.seed = seed
        self.local = batch_size // world_size
        self.first_slot = rank * self.local
        self._orders: dict[str, tuple[int, list[int]]] = {}  # domain -> (epoch, photo order)

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._batch("low", self.low, step), self._batch("high", self.high, step)

    def _order(self, domain: str, n: int, epoch: int) -> list[int]:
        cached = self._orders.get(domain)
        if cached is None or cached[0] != epoch:
            order = list(range(n))
            random.Random(f"{self.seed}:{domain}:epoch:{epoch}").shuffle(order)
            cached = (epoch, order)
            self._orders[domain] = cached
        return cached[1]

    def _batch(self, domain: str, folder: ImageFolder, step: int) -> torch.Tensor:
        n = len(folder)
        samples = []
        for slot in range(self.first_slot, self.first_slot + self.local):
            epoch, position = divmod(step * self.batch_size + slot, n)
            rng = random.Random(f"{self.seed}:{domain}:{step}:{slot}")
            samples.append(folder.sample_at(self._order(domain, n, epoch)[position], rng))
        return torch.stack(samples)

    def __getstate__(self) -> dict:
        """Workers started by spawn get the folders without their decoded-photo caches."""
        state = self.__dict__.copy()
        for name in DOMAINS:
            folder = copy.copy(state[name])
            folder._cache, folder._cached_bytes = {}, 0
            state[name] = folder
        return state


def _split_cache(worker_id: int) -> None:
    """Each worker keeps 1/num_workers of the folders' cache budget (DataLoader worker_init_fn)."""
    info = get_worker_info()
    assert info is not None
    for name in DOMAINS:
        folder: ImageFolder = getattr(info.dataset, name)
        folder.cache_bytes //= info.num_workers


def default_workers(device: torch.device, processes_on_node: int = 1) -> int:
    """DataLoader workers per training process when the user names none.

    On a GPU up to 4, leaving a core per process for the training itself; on a CPU
    none, since workers take their cores from the training (BENCHMARKS.md, "Scale-out").
    """
    if device.type != "cuda":
        return 0
    cpus = os.cpu_count() or 1
    return max(0, min(4, cpus // max(1, processes_on_node) - 1))


class StepLoader:
    """``get(step)`` returns that step's batch; with ``workers`` > 0 the next steps' batches are
    prepared meanwhile in worker processes (0: in this process, when asked)."""

    def __init__(self, batches: StepBatches, workers: int = 0, pin_memory: bool = False) -> None:
        self.batches = batches
        self.workers = workers
        self.pin_memory = pin_memory
        self._iterator = None
        self._next = -1
        self.wait_seconds = 0.0  # time spent in get(): waiting for batches (a diagnostic)

    def get(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        started = time.perf_counter()
        if self._iterator is None or step != self._next:  # first call, or a resume moved the step
            loader = DataLoader(
                self.batches, batch_size=None, sampler=itertools.count(step),
                num_workers=self.workers, pin_memory=self.pin_memory,
                worker_init_fn=_split_cache if self.workers else None,
                prefetch_factor=2 if self.workers else None,
                # its own generator: starting an iterator draws a seed, and the host's global
                # RNG must stay untouched (the samples draw from their own generators)
                generator=torch.Generator().manual_seed(self.batches.seed),
            )
            self._iterator = iter(loader)
            self._next = step
        low, high = next(self._iterator)
        self._next += 1
        self.wait_seconds += time.perf_counter() - started
        return low, high

    def close(self) -> None:
        """Stop the workers (a later ``get`` starts new ones)."""
        self._iterator = None
