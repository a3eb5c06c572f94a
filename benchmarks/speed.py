"""Speed and memory benchmarks for full-resolution enhancement and training (issue 4).

Every case runs in its own child process, so its peak resident memory
(``ru_maxrss``) is its own. Usage::

    python benchmarks/speed.py --photos DIR [--cases a,b,...] [--json out.json]

``--photos``: a folder of photos; the first is upscaled to 4000x3000 (12 MP)
for the full-resolution cases and the first four are used at their own size
for the fast-vs-exact fidelity check; without it a synthetic image is used.
Models use the seeded RANDOM encoder with G_H perturbed deterministically (no
pretrained weights needed): speed and memory do not depend on the weights;
fidelity figures are for this network, not a trained one.

Cases:
- ``throughput512``: images per second at 512x512, naive vs ``enhance`` with
  batch 1 and 8, in interleaved rounds (median of ``--reps``). Naive = same
  model, float32, NCHW, ``torch.no_grad``, one image per call, no tiling;
  ``enhance`` adds inference mode, channels-last and batching.
- ``naive_full``: the naive pass on the largest image that fits (``--naive-size``).
- ``exact12``/``fast12``: one 12 MP photo through ``enhance(mode=...)``;
  ``fast12_ws768``: fast mode with ``working_size=768``.
- ``bf16``: PSNR of bfloat16-autocast output against float32 (512x512).
- ``fidelity``: PSNR of fast against exact mode on photos at their own size,
  working size = long side / 4 (the 12 MP / 1024 ratio); for reference also
  the working-size output upsampled bilinearly, and the global transform alone.
- ``train_paper``/``train_ci``: seconds per training step (paper: batch 12,
  256 crops resized to 128; CI-sized: batch 2, 64 crops at 64), averaged over
  ``--train-steps`` steps (after one warm-up step for the CI size only).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qagan_core.encoder import resolve_encoder
from qagan_core.inference import enhance
from qagan_core.model import ModelConfig, apply_curve
from qagan_core.model.qagan import QAGAN
from qagan_core.pixels import long_side_shape

ALL_CASES = (
    "throughput512", "bf16", "fidelity", "fast12", "fast12_ws768", "exact12",
    "naive_full", "train_ci", "train_paper",
)
FULL_SIZE = (3000, 4000)  # (h, w): 12 MP


def build_model() -> QAGAN:
    torch.manual_seed(0)
    model = QAGAN(ModelConfig(), resolve_encoder("random")).eval()
    with torch.no_grad():
        for p in model.g_h.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return model


def photo_paths(folder: str | None) -> list[Path]:
    if not folder:
        return []
    exts = {".jpg", ".jpeg", ".png"}
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in exts)


def load(path: Path, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Photo as ``[3,H,W]`` float in 0..1, resized (bicubic) to ``size`` = (h, w) if given."""
    image = Image.open(path).convert("RGB")
    if size is not None:
        image = image.resize((size[1], size[0]), Image.BICUBIC)
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div_(255)


def synthetic(size: tuple[int, int]) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    h, w = size
    coarse = F.interpolate(torch.rand(1, 3, 12, 16, generator=g), size=size, mode="bicubic")[0]
    return (0.2 + 0.6 * coarse + 0.05 * torch.rand(3, h, w, generator=g)).clamp(0, 1)


def full_image(args: argparse.Namespace, size: tuple[int, int]) -> torch.Tensor:
    paths = photo_paths(args.photos)
    return load(paths[0], size) if paths else synthetic(size)


def naive(model: QAGAN, x: torch.Tensor) -> torch.Tensor:
    """The baseline: one image, float32, NCHW, no tiling, autograd off."""
    with torch.no_grad():
        xb = x[None]
        return model.enhance_tensor(xb, model.global_transform(xb)).clamp(0, 1)[0]


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so wall-clock timers measure it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_seconds() -> float:
    """User + system CPU time of this process: with other jobs on the machine, ``cpu / cores``
    estimates the wall time on an idle machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def psnr_u8(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / mse) if mse > 0 else float("inf")


def to_u8(x: torch.Tensor) -> np.ndarray:
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def train_step_seconds(
    args: argparse.Namespace, batch: int, load_size: int, crop: int, size: int, warmup: bool
) -> float:
    from qagan_core.training import TrainConfig, Trainer

    folder = args.photos
    if not folder:
        raise SystemExit("training cases need --photos")
    cfg = TrainConfig(low_dir=folder, high_dir=folder, steps=100, batch_size=batch, load_size=load_size,
                      crop_size=crop, train_size=size, encoder_weights="random", device=args.device)
    trainer = Trainer(cfg, encoder=resolve_encoder("random"))
    if warmup or trainer.device.type == "cuda":
        trainer.train_step()
    sync(trainer.device)
    t0 = time.perf_counter()
    for _ in range(args.train_steps):
        trainer.train_step()
    sync(trainer.device)
    return (time.perf_counter() - t0) / args.train_steps


def run_case(name: str, args: argparse.Namespace) -> dict:
    """Runs in the child process; returns the figures of one case."""
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = build_model().to(device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    out: dict = {"case": name, "device": gpu or "cpu"}
    if name == "throughput512":
        # Interleaved rounds, median per round: other jobs on the machine shift all three alike.
        xs = torch.stack([synthetic((512, 512))] * 8).to(device)
        runs = {
            "naive": (1, lambda: naive(model, xs[0])),
            "batch1": (1, lambda: enhance(xs[0], model, mode="exact", tile=0)),
            "batch8": (8, lambda: enhance(xs, model, mode="exact", tile=0, batch_size=8)),
        }
        naive(model, xs[0])
        enhance(xs[0], model, mode="exact", tile=0)
        times: dict[str, list[float]] = {key: [] for key in runs}
        for _ in range(args.reps):
            for key, (_count, fn) in runs.items():
                sync(device)
                t0 = time.perf_counter()
                fn()
                sync(device)
                times[key].append(time.perf_counter() - t0)
        for key, (count, _fn) in runs.items():
            out[f"{key}_images_per_s"] = count / float(np.median(times[key]))
    elif name == "bf16":
        paths = photo_paths(args.photos)
        x = (load(paths[0], (512, 512)) if paths else synthetic((512, 512))).to(device)
        full = enhance(x, model, mode="exact", tile=0, precision="float32")
        half = enhance(x, model, mode="exact", tile=0, precision="bfloat16")
        out["psnr_db"] = psnr_u8(to_u8(full), to_u8(half))
    elif name == "fidelity":
        for key in ("psnr_db", "bilinear_psnr_db", "global_only_psnr_db"):
            out[key] = []
        for path in photo_paths(args.photos)[:4]:
            x = load(path)
            ws = max(x.shape[-2:]) // 4
            exact = to_u8(enhance(x, model, mode="exact", tile=0))
            out["psnr_db"].append(psnr_u8(exact, to_u8(enhance(x, model, mode="fast", working_size=ws))))
            # References: the working-size output upsampled bilinearly; the global transform alone.
            with torch.inference_mode():
                transform = model.global_transform(x[None])
                lo = F.interpolate(x[None], size=long_side_shape(*x.shape[-2:], ws), mode="bilinear",
                                   antialias=True, align_corners=False)
                up = F.interpolate(model.enhance_tensor(lo, transform), size=x.shape[-2:], mode="bilinear",
                                   align_corners=False)[0]
                glob = apply_curve(x[None], *transform)[0]
            out["bilinear_psnr_db"].append(psnr_u8(exact, to_u8(up)))
            out["global_only_psnr_db"].append(psnr_u8(exact, to_u8(glob)))
    elif name in ("exact12", "fast12", "fast12_ws768", "naive_full"):
        size = FULL_SIZE if name != "naive_full" else tuple(args.naive_size)
        x = full_image(args, size).to(device)
        ws = 768 if name == "fast12_ws768" else args.working_size
        if device.type == "cuda" and name != "naive_full":  # warm-up: CUDA kernels, cuDNN plans
            enhance(x, model, mode=name.split("12")[0], working_size=ws)
        sync(device)
        t0, c0 = time.perf_counter(), cpu_seconds()
        if name == "naive_full":
            y = naive(model, x)
        else:
            y = enhance(x, model, mode=name.split("12")[0], working_size=ws)
        sync(device)
        out["seconds"] = time.perf_counter() - t0
        y = y.cpu()
        out["cpu_seconds"] = cpu_seconds() - c0
        out["megapixels"] = size[0] * size[1] / 1e6
        if args.save_dir and name != "naive_full":
            np.save(Path(args.save_dir) / f"{name}.npy", to_u8(y))
    elif name == "train_paper":
        out["seconds_per_step"] = train_step_seconds(args, 12, 512, 256, 128, warmup=False)
    elif name == "train_ci":
        out["seconds_per_step"] = train_step_seconds(args, 2, 96, 64, 64, warmup=True)
    else:
        raise SystemExit(f"unknown case {name}")
    out["peak_rss_mb"] = peak_rss_mb()
    if device.type == "cuda":
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def child_command(name: str, args: argparse.Namespace, save_dir: str) -> list[str]:
    cmd = [sys.executable, __file__, "--case", name, "--device", args.device, "--threads", str(args.threads),
           "--reps",
           str(args.reps), "--working-size", str(args.working_size), "--train-steps",
           str(args.train_steps), "--naive-size", *map(str, args.naive_size), "--save-dir", save_dir]
    if args.photos:
        cmd += ["--photos", args.photos]
    return cmd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default=None)
    parser.add_argument("--cases", default=",".join(ALL_CASES))
    parser.add_argument("--case", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--save-dir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (GPU timings synchronise)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=1)
    parser.add_argument("--working-size", type=int, default=1024)
    parser.add_argument("--naive-size", type=int, nargs=2, default=[1536, 2048], metavar=("H", "W"))
    parser.add_argument("--timeout", type=int, default=1200)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    if args.case:
        print("RESULT " + json.dumps(run_case(args.case, args)), flush=True)
        return
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as save_dir:
        for name in args.cases.split(","):
            proc = subprocess.run(child_command(name, args, save_dir), capture_output=True, text=True,
                                  timeout=args.timeout)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode != 0 or not lines:
                results[name] = {"case": name, "error": proc.stderr.strip().splitlines()[-1:]}
            else:
                results[name] = json.loads(lines[-1][len("RESULT "):])
            print(json.dumps(results[name]), flush=True)
        exact = Path(save_dir) / "exact12.npy"
        for fast in sorted(Path(save_dir).glob("fast12*.npy")):
            if exact.is_file():
                key = f"{fast.stem}_vs_exact12"
                results[key] = {"psnr_db": psnr_u8(np.load(exact), np.load(fast))}
                print(json.dumps({key: results[key]}), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
