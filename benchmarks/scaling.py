"""Scale-out benchmark (issue 12): training throughput on 1 and 2 processes, data-loading share.

Usage::

    python benchmarks/scaling.py [--steps 6] [--warmup 2] [--json out.json] [--device cpu]

Every case is a torchrun launch (``python -m torch.distributed.run``) of this
file in ``--worker`` mode, so the 1-process and 2-process figures come from the
same code path; a 1-process launch trains as a single process (no process group).
The photos are synthetic 1600x1200 JPEGs (24 per folder, written to a temporary
folder), trained at the CPU budget's settings (global batch 4, 256-pixel crops
resized to 64, colour head 16 updates per step) with the seeded random encoder:
speed does not depend on the weights.

Cases:
- ``p1``/``p2``: images per second (global batch / mean step time) with 1 and 2
  processes at the same global batch. The cores are shared out: 1 process uses
  all of them for its intra-op threads, each of 2 processes half.
- ``p1_1thread``: 1 process with 1 thread, which separates the gain of a
  second process from the cost of a second thread on a busy machine.
- ``p1_uncached_w0``/``p1_uncached_w2``: 1 process with the decoded-photo cache
  off (as for folders larger than its 1 GiB, e.g. 5,000 photos), DataLoader
  workers 0 vs 2: the share of the step spent waiting for the batch.
Ratios are computed within one run of this script.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CASES = {  # name: (processes, workers, cache, intra-op threads per process; 0 = cores / processes)
    "p1": (1, 0, True, 0),
    "p2": (2, 0, True, 0),
    "p1_1thread": (1, 0, True, 1),
    "p1_uncached_w0": (1, 0, False, 0),
    "p1_uncached_w2": (1, 2, False, 0),
}


def write_photos(folder: Path, n: int, seed: int) -> None:
    """Camera-sized JPEGs with gradients and noise (so decoding costs what a photo costs)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:1200, 0:1600] / 1600.0
    for i in range(n):
        base = np.stack([yy, xx, 1 - yy], axis=2) * 0.6 + rng.random(3) * 0.4
        img = np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1)
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"photo_{i:03d}.jpg", quality=90)


def worker(args: argparse.Namespace) -> None:
    """One process of a launch: train warm-up + measured steps; rank 0 prints the figures."""
    import torch

    sys.path.insert(0, str(ROOT))
    from qagan_core import distributed
    from qagan_core.encoder import resolve_encoder
    from qagan_core.training import TrainConfig, Trainer

    group = distributed.setup(args.device)
    config = TrainConfig(low_dir=str(args.photos / "low"), high_dir=str(args.photos / "high"),
                         steps=args.warmup + args.steps, batch_size=4, crop_size=256, train_size=64,
                         encoder_weights="random", device=args.device, workers=args.workers)
    trainer = Trainer(config, encoder=resolve_encoder("random"), distributed=group)
    if not args.cache:
        for folder in (trainer.low, trainer.high):
            folder._cache, folder.cache_bytes = {}, 0
    for _ in range(args.warmup):
        trainer.train_step()
    times, waits = [], []
    for _ in range(args.steps):
        waited = trainer.loader.wait_seconds
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        trainer.train_step()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
        waits.append(trainer.loader.wait_seconds - waited)
    trainer.loader.close()
    if trainer.is_main:
        step = sum(times) / len(times)
        print("RESULT " + json.dumps({
            "processes": group.world_size if group else 1, "workers": args.workers, "cache": args.cache,
            "threads": torch.get_num_threads(), "step_s": round(step, 3),
            "images_per_s": round(config.batch_size / step, 3),
            "data_share": round(sum(waits) / sum(times), 4),
        }), flush=True)
    distributed.shutdown(group)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(name: str, photos: Path, args: argparse.Namespace) -> dict:
    processes, workers, cache, threads = CASES[name]
    cores = os.cpu_count() or 1
    env = {**os.environ, "OMP_NUM_THREADS": str(threads or max(1, cores // processes))}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(processes),
               "--master-addr", "127.0.0.1", "--master-port", str(free_port()), __file__, "--worker",
               "--photos", str(photos), "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--workers", str(workers), "--device", args.device] + ([] if cache else ["--no-cache"])
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise SystemExit(f"case {name} failed:\n{done.stderr[-3000:]}")
    return {"case": name, **json.loads(lines[-1][len("RESULT "):])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--photos", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--no-cache", dest="cache", action="store_false", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=6, help="measured steps per case")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured steps first")
    parser.add_argument("--device", default="cpu", help="cpu (Gloo) or cuda (NCCL, one GPU per process)")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        photos = Path(tmp)
        write_photos(photos / "low", 24, seed=1)
        write_photos(photos / "high", 24, seed=2)
        rows = []
        for name in args.cases.split(","):
            rows.append(launch(name, photos, args))
            print(json.dumps(rows[-1]), flush=True)
    by = {r["case"]: r for r in rows}
    if "p1" in by and "p2" in by:
        speedup = by["p2"]["images_per_s"] / by["p1"]["images_per_s"]
        print(f"2 processes vs 1: {speedup:.2f}x images/s, scaling efficiency {speedup / 2:.0%}")
    if args.json:
        args.json.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
                                         "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
