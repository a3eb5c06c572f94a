"""Quality benchmark on real photos (issue 5): does QAGAN enhance, and does the QAM help?

Subcommands (run from the repository root)::

    python benchmarks/quality.py all [--budget cpu|gpu]      # everything below, one command
    python benchmarks/quality.py build [--photos DIR] [--out benchmarks/out]
    python benchmarks/quality.py baselines
    python benchmarks/quality.py train NAME [--steps 60 --batch 4 --train-size 64 --no-qam ...]
    python benchmarks/quality.py table
    python benchmarks/quality.py grid NAME [--grid docs/quality_grid.png]

``build`` makes a deterministic unpaired split of the photos (default
``../shared/data/photos`` relative to the repository root): a low-quality
domain (photos with the defects of ``benchmarks/defects.py``), a disjoint
high-quality domain (untouched photos) and held-out test pairs (a third
subset, short side resized to 512 and centre-cropped to 512x512: defective
input and clean original). Everything is written under ``--out`` (git-ignored);
no photo enters the repository except the small preview grid.

Metrics as the field reports them: outputs are quantised to 8 bits, PSNR and
SSIM (qagan_core.metrics, data range 1) are computed per image after cropping
4 pixels from every border, and averaged over all N test images. Two colour
diagnostics catch failure modes the averages hide: ``dmean`` (mean absolute
difference of per-channel image means to the original, in 8-bit levels:
colour casts, exposure errors, inversion) and ``sat`` (mean chroma of the
output divided by that of the original: over- or under-saturation).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.defects import DEFECT_RANGES, VISIBLE_PSNR, quantise, visible_defects  # noqa: E402
from benchmarks.looks import GRADES  # noqa: E402
from qagan_core import ModelConfig, TrainConfig, Trainer, enhance  # noqa: E402
from qagan_core.metrics import psnr_per_image, ssim_per_image  # noqa: E402
from qagan_core.training import PRESETS, budget_sizes, preset_settings  # noqa: E402
from qagan_core.training.trainer import fold_into_mean  # noqa: E402

DEFAULT_PHOTOS = REPO.parent / "shared" / "data" / "photos"
DEFAULT_OUT = REPO / "benchmarks" / "out"
TEST_SIZE = 512
BORDER = 4
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
BASELINES = ("input", "autocontrast", "histeq", "grayworld_autocontrast")


# ----------------------------------------------------------------- images
def read_rgb(path: Path) -> Image.Image:
    with Image.open(path) as img:
        return ImageOps.exif_transpose(img).convert("RGB")


def to_array(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32) / 255.0


def to_image(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8))


def to_tensor(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def square_crop(img: Image.Image, size: int) -> Image.Image:
    """Short side resized to ``size`` (Lanczos), then the centre ``size`` x ``size`` square."""
    w, h = img.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), Image.Resampling.LANCZOS)
    left, top = (nw - size) // 2, (nh - size) // 2
    return img.crop((left, top, left + size, top + size))


# ------------------------------------------------------------------ split
def make_split(names: list[str], seed: int, n_test: int) -> dict[str, list[str]]:
    """Disjoint test / low / high subsets of the sorted ``names`` (a seeded permutation)."""
    if len(names) < n_test + 2:
        raise SystemExit(f"need at least {n_test + 2} photos, found {len(names)}")
    order = np.random.default_rng(seed).permutation(len(names))
    rest = [names[i] for i in order[n_test:]]
    half = len(rest) // 2
    return {
        "test": sorted(names[i] for i in order[:n_test]),
        "low": sorted(rest[:half]),
        "high": sorted(rest[half:]),
    }


def scene_groups(sources_md: str) -> dict[str, str]:
    """Photo file -> scene key, from a SOURCES.md table (``| file | package | original file | ...``).

    Photos of one series share the key: same package and folder, same original
    name once a trailing number or left/right is removed (``grand_canyon_1`` and
    ``grand_canyon_3``).
    """
    groups = {}
    for line in sources_md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or Path(cells[0]).suffix.lower() not in PHOTO_EXTENSIONS:
            continue
        # the last path in the cell: "bundle.rcc entry dir/photo.webp", "dir/bg.edj (embedded ...)"
        paths = [t for t in cells[2].split() if "/" in t] or cells[2].split()[:1]
        original = paths[-1]
        folder, _, stem = original.rpartition("/")
        stem = re.sub(r"[_\- ]?(\d+|left|right)$", "", Path(stem).stem.lower())
        groups[cells[0]] = f"{cells[1].split(' ')[0]}:{folder}/{stem}"
    return groups


def scenes_across_test(split: dict[str, list[str]], groups: dict[str, str]) -> list[list[str]]:
    """Scene groups with photos both in the test set and in a training domain (leakage)."""
    side = {name: part for part in ("test", "low", "high") for name in split[part]}
    members: dict[str, list[str]] = {}
    for name, key in groups.items():
        if name in side:
            members.setdefault(key, []).append(name)
    return [sorted(names) for names in members.values()
            if len({side[n] == "test" for n in names}) > 1]


def cmd_build(args: argparse.Namespace) -> None:
    photos = Path(args.photos)
    names = sorted(p.name for p in photos.iterdir() if p.suffix.lower() in PHOTO_EXTENSIONS)
    split = make_split(names, args.seed, args.n_test)
    sources = photos / "SOURCES.md"
    if sources.is_file():
        crossing = scenes_across_test(split, scene_groups(sources.read_text(encoding="utf-8")))
        if crossing:
            raise SystemExit(f"test photos share a scene with training photos: {crossing}; "
                             "choose another --seed")
        print("scene check: no scene series (SOURCES.md) has photos both in test and in training")
    out = Path(args.out)
    for sub in ("low", "high", "test/input", "test/target"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    if args.task != "defects":
        build_look(args, photos, split, out)
        return
    defects: dict[str, dict[str, float]] = {}
    for name in split["low"]:
        d, attempt, low = visible_defects(to_array(read_rgb(photos / name)), args.seed, names.index(name))
        defects[name] = {**d.to_dict(), "attempt": attempt}
        to_image(low).save(out / "low" / f"{Path(name).stem}.png")
    for name in split["high"]:
        read_rgb(photos / name).save(out / "high" / f"{Path(name).stem}.png")
    for name in split["test"]:
        target = square_crop(read_rgb(photos / name), TEST_SIZE)
        d, attempt, test_input = visible_defects(to_array(target), args.seed, names.index(name))
        defects[name] = {**d.to_dict(), "attempt": attempt}
        target.save(out / "test" / "target" / f"{Path(name).stem}.png")
        to_image(test_input).save(out / "test" / "input" / f"{Path(name).stem}.png")
    info = {"seed": args.seed, "n_photos": len(names), "defects_version": 3, "visible_psnr": VISIBLE_PSNR,
            "ranges": DEFECT_RANGES, **split, "defects": defects}
    (out / "split.json").write_text(json.dumps(info, indent=1))
    print(f"split: {len(split['low'])} low, {len(split['high'])} high, {len(split['test'])} test -> {out}")


def build_look(args: argparse.Namespace, photos: Path, split: dict[str, list[str]], out: Path) -> None:
    """Look task: low = untouched photos, high = other photos with the grade, test = held-out
    untouched photos and the grade applied to them."""
    grade = GRADES[args.task]
    for name in split["low"]:
        read_rgb(photos / name).save(out / "low" / f"{Path(name).stem}.png")
    for name in split["high"]:
        to_image(grade(to_array(read_rgb(photos / name)))).save(out / "high" / f"{Path(name).stem}.png")
    for name in split["test"]:
        original = square_crop(read_rgb(photos / name), TEST_SIZE)
        original.save(out / "test" / "input" / f"{Path(name).stem}.png")
        to_image(grade(to_array(original))).save(out / "test" / "target" / f"{Path(name).stem}.png")
    info = {"seed": args.seed, "task": args.task, "n_photos": len(list(photos.iterdir())), **split}
    (out / "split.json").write_text(json.dumps(info, indent=1))
    print(f"look {args.task}: {len(split['low'])} low, {len(split['high'])} high, "
          f"{len(split['test'])} test -> {out}")


# ------------------------------------------------------------- baselines
def autocontrast(img: Image.Image) -> Image.Image:
    """Per-channel stretch, 1 % of the pixels clipped at each end (PIL's autocontrast)."""
    return ImageOps.autocontrast(img, cutoff=1)


def histeq(img: Image.Image) -> Image.Image:
    """Per-channel histogram equalisation (PIL's equalize)."""
    return ImageOps.equalize(img)


def grayworld_autocontrast(img: Image.Image) -> Image.Image:
    """Gray-world white balance (channel means made equal), then one stretch shared by all channels."""
    arr = to_array(img)
    means = arr.reshape(-1, 3).mean(axis=0)
    balanced = arr * (means.mean() / np.maximum(means, 1e-6))
    return ImageOps.autocontrast(to_image(balanced), cutoff=1, preserve_tone=True)


def oracle_channel_lut(x: np.ndarray, target: np.ndarray) -> np.ndarray:
    """NOT a method: per channel, each 8-bit input level mapped to the mean original value there.

    Uses the original, so it is an upper bound for per-channel global tone curves
    (levels absent from the input are filled by linear interpolation).
    """
    out = np.empty_like(x)
    levels = np.arange(256)
    for c in range(3):
        idx = np.round(x[..., c] * 255).astype(np.int64).ravel()
        counts = np.bincount(idx, minlength=256)
        sums = np.bincount(idx, weights=target[..., c].ravel(), minlength=256)
        seen = counts > 0
        lut = np.interp(levels, levels[seen], sums[seen] / counts[seen])
        out[..., c] = lut[idx].reshape(x.shape[:2])
    return out


BASELINE_FNS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "input": lambda img: img,
    "autocontrast": autocontrast,
    "histeq": histeq,
    "grayworld_autocontrast": grayworld_autocontrast,
}


# ------------------------------------------------------------- evaluation
def test_pairs(out: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    names = sorted(p.name for p in (out / "test" / "input").glob("*.png"))
    if not names:
        raise SystemExit(f"no test pairs under {out / 'test'}: run 'build' first")
    return [
        (n, to_array(read_rgb(out / "test" / "input" / n)), to_array(read_rgb(out / "test" / "target" / n)))
        for n in names
    ]


def colour_stats(y: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    """(mean |channel-mean difference| in 8-bit levels, output chroma / original chroma)."""
    dmean = float(np.abs(y.reshape(-1, 3).mean(0) - t.reshape(-1, 3).mean(0)).mean() * 255.0)

    def chroma(a: np.ndarray) -> float:
        return float((a.max(axis=2) - a.min(axis=2)).mean())

    return dmean, chroma(y) / max(chroma(t), 1e-6)


def evaluate(
    name: str, outputs: dict[str, np.ndarray], pairs: list[tuple[str, np.ndarray, np.ndarray]], out: Path
) -> dict:
    """Per-image and mean metrics of ``outputs`` (already on the 8-bit grid); saves the outputs."""
    save_dir = out / "enhanced" / name
    save_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for img_name, _, target in pairs:
        y = quantise(outputs[img_name])
        to_image(y).save(save_dir / img_name)
        yt, tt = to_tensor(y), to_tensor(target)
        dmean, sat = colour_stats(y, target)
        rows.append({
            "image": img_name,
            "psnr": float(psnr_per_image(yt, tt, BORDER)[0]),
            "ssim": float(ssim_per_image(yt, tt, BORDER)[0]),
            "dmean": dmean,
            "sat": sat,
        })
    n = len(rows)
    return {
        "name": name,
        "n": n,
        "psnr": sum(r["psnr"] for r in rows) / n,
        "ssim": sum(r["ssim"] for r in rows) / n,
        "dmean": sum(r["dmean"] for r in rows) / n,
        "sat": sum(r["sat"] for r in rows) / n,
        "per_image": rows,
    }


def write_result(out: Path, result: dict) -> None:
    (out / "results").mkdir(parents=True, exist_ok=True)
    path = out / "results" / f"{result['name']}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"{result['name']}: PSNR {result['psnr']:.2f} dB  SSIM {result['ssim']:.4f}  "
          f"dmean {result['dmean']:.1f}  sat {result['sat']:.2f}  (N={result['n']}) -> {path}")


def cmd_baselines(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    out = Path(args.out)
    pairs = test_pairs(out)
    for name in BASELINES:
        if args.only and name not in args.only:
            continue
        fn = BASELINE_FNS[name]
        outputs = {n: to_array(fn(to_image(x))) for n, x, _ in pairs}
        result = evaluate(name, outputs, pairs, out)
        result["budget"] = "no training"
        write_result(out, result)
    if args.only and "oracle_channel_lut" not in args.only:
        return
    outputs = {n: oracle_channel_lut(x, t) for n, x, t in pairs}
    result = evaluate("oracle_channel_lut", outputs, pairs, out)
    result["budget"] = "uses the original: upper bound of per-channel global curves, not a method"
    write_result(out, result)


# ---------------------------------------------------------------- training
def product_config(args: argparse.Namespace, out: Path) -> TrainConfig:
    """What ``qagan train --minutes M [--preset P]`` trains with (all defaults), plus the
    ablation switches of this benchmark."""
    settings: dict = {**budget_sizes(torch.device(args.device).type), **preset_settings(args.preset)}
    settings.update(low_dir=str(out / "low"), high_dir=str(out / "high"), minutes=args.minutes,
                    steps=args.product_steps, seed=args.seed, encoder_weights=args.encoder_weights,
                    device=args.device)
    for key in ("color_steps", "lambda_idt", "head_objective"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if args.export:
        settings["export"] = args.export
    if args.plain_identity:
        settings["degraded_identity"] = False
    for item in args.set:
        key, value = item.split("=", 1)
        settings[key] = json.loads(value)
    return TrainConfig(**settings)


def cmd_train(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    pairs = test_pairs(out)
    if args.minutes or args.product_steps:
        train_product(args, out, pairs)
        return
    model_cfg = ModelConfig(
        use_qam=not args.no_qam,
        residual_output=not args.no_residual,
        global_curve=not args.no_curve,
        qam_residual=not args.qam_literal,
        global_size=args.global_size,
        curve_pixel_stats=args.pixel_stats,
    )
    cfg = TrainConfig(
        low_dir=str(out / "low"),
        high_dir=str(out / "high"),
        steps=args.steps,
        batch_size=args.batch,
        lr_g=args.lr_g,
        lr_d=args.lr_d,
        lambda_cc=args.lambda_cc,
        lambda_adv=args.lambda_adv,
        lambda_idt=args.lambda_idt or 0.0,
        lambda_unet_mean=args.lambda_unet_mean,
        history_size=args.history,
        amp=args.amp,
        load_size=args.load_size,
        crop_size=args.crop_size,
        train_size=args.train_size,
        seed=args.seed,
        encoder_weights=args.encoder_weights,
        device=args.device,
        model=model_cfg,
    )
    (out / "models").mkdir(parents=True, exist_ok=True)
    trainer = Trainer(cfg, model_path=out / "models" / f"{args.name}.safetensors")
    start = time.perf_counter()
    for _ in range(trainer.total_steps):
        losses = trainer.train_step()
        if trainer.step % args.log_every == 0 or trainer.step == trainer.total_steps:
            text = " ".join(f"{k} {v:.3f}" for k, v in losses.items())
            print(f"[{args.name}] step {trainer.step}/{trainer.total_steps} "
                  f"{time.perf_counter() - start:.1f}s {text}", flush=True)
    train_s = time.perf_counter() - start
    trainer.save()
    model = trainer.export_model()
    outputs = {n: enhance(to_tensor(x), model).numpy().transpose(1, 2, 0) for n, x, _ in pairs}
    result = evaluate(args.name, outputs, pairs, out)
    encoder = "random" if trainer.encoder.identity.is_random else "pretrained"
    if trainer.device.type == "cuda":
        where = torch.cuda.get_device_name(trainer.device) + (" amp" if trainer.use_amp else "")
    else:
        where = f"{trainer.device.type} ({args.threads} threads)"
    result["budget"] = (
        f"{cfg.steps} steps, batch {cfg.batch_size}, crop {cfg.crop_size}->{cfg.train_size}, "
        f"lr G/D {cfg.lr_g:g}/{cfg.lr_d:g}, {where}, encoder {encoder}, train {train_s / 60:.1f} min"
    )
    result["train_config"] = cfg.to_dict()
    result["history"] = trainer.history
    result["machine"] = f"{platform.machine()} {platform.processor() or ''}".strip()
    write_result(out, result)


def pairs_at_256(pairs: list) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The test pairs (input, truth) resized to 256 px: a quick test while a run trains."""
    def at_256(a: np.ndarray) -> torch.Tensor:
        return to_tensor(to_array(to_image(a).resize((256, 256), Image.Resampling.LANCZOS)))

    return [(at_256(x), at_256(t)) for _, x, t in pairs]


@torch.no_grad()
def current_test_psnr(trainer: Trainer, small: list[tuple[torch.Tensor, torch.Tensor]]
                      ) -> tuple[float, float]:
    """Mean PSNR of the trainer's current G_H on ``pairs_at_256`` pairs, and of its global
    transform alone (without the U-Net's residual); not timed."""
    trainer.model.g_h.eval()
    full, head = [], []
    for x, t in small:
        x = x[None].to(trainer.device)
        transform = trainer.model.global_transform(x)
        y = trainer.model.enhance_tensor(x, transform).clamp(0, 1)[0].cpu()
        full.append(float(psnr_per_image(y, t, BORDER)[0]))
        base = trainer.model.g_h.pointwise(x, transform)
        if base is not None:
            head.append(float(psnr_per_image(base.clamp(0, 1)[0].cpu(), t, BORDER)[0]))
    trainer.model.g_h.train()
    return sum(full) / len(full), (sum(head) / len(head) if head else float("nan"))


def train_product(args: argparse.Namespace, out: Path, pairs: list) -> None:
    cfg = product_config(args, out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    trainer = Trainer(cfg, model_path=out / "models" / f"{args.name}.safetensors")
    start = time.perf_counter()

    def log_progress(p) -> None:
        if p.step % args.log_every == 0:
            text = " ".join(f"{k} {v:.3f}" for k, v in p.losses.items())
            print(f"[{args.name}] step {p.step}/~{p.total} {time.perf_counter() - start:.0f}s {text}",
                  flush=True)

    tracked: list[dict] = []
    small = pairs_at_256(pairs) if args.track_test else []

    def on_progress(p) -> None:
        log_progress(p)
        last = trainer.history[-1]
        if small and "val_color" in last and (not tracked or tracked[-1]["step"] != p.step):
            full, head = current_test_psnr(trainer, small)
            tracked.append({"step": p.step, "test_psnr_256": full, "test_head_psnr_256": head,
                            **{k: v for k, v in last.items() if k.startswith("val_")}})
            print(f"[{args.name}] step {p.step} test@256 {full:.2f} head {head:.2f} "
                  + " ".join(f"{k} {v:.3f}" for k, v in last.items() if k.startswith("val_")), flush=True)

    # --compare-exports: the generators other export rules would give, kept beside the run.
    alternatives: dict[str, dict] = {}
    averaged: dict[str, torch.Tensor] = {}
    averaged_steps = 0

    def generators() -> dict[str, torch.Tensor]:
        return {**{f"g_h.{k}": v for k, v in trainer.model.g_h.state_dict().items()},
                **{f"g_l.{k}": v for k, v in trainer.model.g_l.state_dict().items()}}

    def compare(p) -> None:
        nonlocal averaged_steps
        on_progress(p)
        if not args.compare_exports:
            return
        last = trainer.history[-1]
        if "val_color" in last and last["val_color"] < alternatives.get("selcolor", {}).get("score", 1e9):
            alternatives["selcolor"] = {"score": last["val_color"], "step": p.step,
                                        "state": {k: v.detach().clone() for k, v in generators().items()}}
        if trainer._fraction() >= 0.5:  # the weights averaged over the second half, as export "average"
            averaged_steps += 1
            fold_into_mean(averaged, generators(), averaged_steps)

    trainer.run(on_progress=compare)
    train_s = time.perf_counter() - start
    if args.compare_exports:
        alternatives["last"] = {"step": trainer.step, "state": generators()}
        if averaged:
            alternatives["avg2"] = {"step": trainer.step, "averaged_steps": averaged_steps, "state": averaged}
        base, seed = args.name.rsplit("_s", 1)
        for rule, alt in alternatives.items():
            model = trainer.export_model()
            model.g_h.load_state_dict({k[4:]: v for k, v in alt["state"].items() if k.startswith("g_h.")})
            model.g_l.load_state_dict({k[4:]: v for k, v in alt["state"].items() if k.startswith("g_l.")})
            outputs = {n: enhance(to_tensor(x), model).numpy().transpose(1, 2, 0) for n, x, _ in pairs}
            result = evaluate(f"{base}_{rule}_s{seed}", outputs, pairs, out)
            averaged_note = f", {alt['averaged_steps']} steps averaged" if "averaged_steps" in alt else ""
            result["budget"] = (f"the run {args.name}, exported by the rule '{rule}' instead "
                                f"(step {alt['step']}{averaged_note})")
            result["best_step"] = alt["step"]
            write_result(out, result)
    model = trainer.export_model()
    outputs = {n: enhance(to_tensor(x), model).numpy().transpose(1, 2, 0) for n, x, _ in pairs}
    result = evaluate(args.name, outputs, pairs, out)
    encoder = "random" if trainer.encoder.identity.is_random else "pretrained"
    where = (torch.cuda.get_device_name(trainer.device) if trainer.device.type == "cuda"
             else f"{trainer.device.type} ({args.threads} threads)")
    best = trainer.best["step"] if trainer.best else None
    result["budget"] = (
        f"{f'--minutes {cfg.minutes:g}' if cfg.minutes else f'--product-steps {cfg.steps}'} "
        f"preset {args.preset}{''.join(' --set ' + x for x in args.set)}: {trainer.step} steps, "
        f"batch {cfg.batch_size}, "
        f"crop {cfg.crop_size}->{cfg.train_size}, head {cfg.color_steps} x {cfg.head_objective}, "
        f"idt {cfg.lambda_idt:g}, adv {cfg.lambda_adv:g}, "
        f"export {cfg.export} (best step {best}), {where}, encoder {encoder}, "
        f"wall {train_s / 60:.1f} min"
    )
    result["train_config"] = cfg.to_dict()
    result["history"] = trainer.history
    result["best_step"] = best
    if tracked:
        result["tracked"] = tracked
    result["machine"] = f"{platform.machine()} {platform.processor() or ''}".strip()
    write_result(out, result)


# ------------------------------------------------------------------ sweeps
# Named variants for ``sweep``: extra ``train`` arguments on top of the common ones.
VARIANTS: dict[str, list[str]] = {
    "paper": [],
    "noqam": ["--no-qam"],
    "nocurve": ["--no-curve"],
    "pixstats": ["--pixel-stats"],
    "idt1": ["--lambda-idt", "1"],
    "hist50": ["--history", "50"],
    "ttur": ["--lr-d", "4e-4"],
    "lr1e-3": ["--lr-g", "1e-3", "--lr-d", "1e-3"],
    "pixstats_idt1": ["--pixel-stats", "--lambda-idt", "1"],
    "pixstats_noqam": ["--pixel-stats", "--no-qam"],
    # with --minutes: the product (qagan train --minutes M) and its ablations
    "product": [],
    "product_color0": ["--color-steps", "0"],
    "product_colors": ["--head-objective", "colors"],
    "product_plainidt": ["--plain-identity"],
    "product_nobest": ["--export", "last"],
    "product_best": ["--export", "best"],
    "product_paper": ["--preset", "paper"],
}


def shipped_variant() -> list[str]:
    """``train`` arguments that reproduce the shipped defaults (TrainConfig / ModelConfig)."""
    cfg, model = TrainConfig(), ModelConfig()
    args = []
    if cfg.lambda_idt:
        args += ["--lambda-idt", str(cfg.lambda_idt)]
    if cfg.lambda_adv != 1.0:
        args += ["--lambda-adv", str(cfg.lambda_adv)]
    if cfg.lambda_unet_mean:
        args += ["--lambda-unet-mean", str(cfg.lambda_unet_mean)]
    if cfg.history_size:
        args += ["--history", str(cfg.history_size)]
    if model.curve_pixel_stats:
        args.append("--pixel-stats")
    flags = (("--no-qam", not model.use_qam), ("--no-residual", not model.residual_output),
             ("--no-curve", not model.global_curve), ("--qam-literal", not model.qam_residual))
    return args + [flag for flag, on in flags if on]


VARIANTS["shipped"] = shipped_variant()


def cmd_sweep(args: argparse.Namespace) -> None:
    """Train every variant x seed as ``<variant>_s<seed>``, ``--jobs`` at a time (one GPU or CPU)."""
    out = Path(args.out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {sorted(VARIANTS)}")
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    queue = [(f"{v}{args.tag}_s{seed}", [*VARIANTS[v], "--seed", str(seed)])
             for seed in args.seeds for v in args.variants]
    running: list[tuple[str, subprocess.Popen]] = []
    failed = []
    start = time.perf_counter()
    while queue or running:
        while queue and len(running) < args.jobs:
            name, extra = queue.pop(0)
            cmd = [sys.executable, str(Path(__file__).resolve()), "--out", str(out), "train", name,
                   *extra, *train_args]
            with open(out / "logs" / f"{name}.log", "w") as log_file:  # the child keeps its own handle
                running.append((name, subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT)))
        time.sleep(1.0)
        for name, proc in list(running):
            if proc.poll() is not None:
                running.remove((name, proc))
                status = "ok" if proc.returncode == 0 else f"FAILED ({proc.returncode})"
                if proc.returncode != 0:
                    failed.append(name)
                print(f"[{time.perf_counter() - start:.0f}s] {name}: {status}", flush=True)
    summarise(out, [f"{v}{args.tag}" for v in args.variants])
    if failed:
        raise SystemExit(f"failed runs: {failed} (logs in {out / 'logs'})")


def summarise(out: Path, groups: list[str]) -> None:
    """Mean and spread over seeds of every ``<group>_s<seed>`` result, against the input."""
    print("| variant | seeds | PSNR mean (min..max) | gain over input | SSIM | dmean | sat "
          "| photos improved | worst photo | steps |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    input_path = out / "results" / "input.json"
    inp = json.loads(input_path.read_text()) if input_path.exists() else None
    for group in groups:
        runs = [json.loads(p.read_text()) for p in sorted((out / "results").glob(f"{group}_s*.json"))]
        runs = [r for r in runs if r["name"].rsplit("_s", 1)[0] == group]
        if not runs:
            continue
        psnr = [r["psnr"] for r in runs]
        better = gain = worst = ""
        if inp is not None:
            base = {row["image"]: row["psnr"] for row in inp["per_image"]}
            better = "/".join(str(sum(row["psnr"] > base[row["image"]] for row in r["per_image"]))
                              for r in runs) + f" of {runs[0]['n']}"
            gain = f"{np.mean(psnr) - inp['psnr']:+.2f} dB"
            worst = f"{min(row['psnr'] - base[row['image']] for r in runs for row in r['per_image']):+.2f} dB"
        steps = "/".join(str(len(r.get("history", []))) for r in runs)
        print(f"| {group} | {len(runs)} | {np.mean(psnr):.2f} ({min(psnr):.2f}..{max(psnr):.2f}) "
              f"| {gain} | {np.mean([r['ssim'] for r in runs]):.4f} "
              f"| {np.mean([r['dmean'] for r in runs]):.1f} | {np.mean([r['sat'] for r in runs]):.2f} "
              f"| {better} | {worst} | {steps} |")


def cmd_summary(args: argparse.Namespace) -> None:
    out = Path(args.out)
    groups = args.groups or sorted({p.stem.rsplit("_s", 1)[0] for p in (out / "results").glob("*_s*.json")})
    summarise(out, groups)


# ------------------------------------------------------------ table / grid
def cmd_table(args: argparse.Namespace) -> None:
    out = Path(args.out)
    results = {p.stem: json.loads(p.read_text()) for p in sorted((out / "results").glob("*.json"))}
    first = [*BASELINES, "oracle_channel_lut"]
    order = [n for n in first if n in results] + [n for n in results if n not in first]
    print("| method | PSNR (dB) | SSIM | dmean | sat | N | budget |")
    print("|---|---|---|---|---|---|---|")
    for name in order:
        r = results[name]
        print(f"| {name} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['dmean']:.1f} | {r['sat']:.2f} "
              f"| {r['n']} | {r['budget']} |")


def cmd_grid(args: argparse.Namespace) -> None:
    """Rows: the first ``--rows`` test photos (or ``--photos``); columns: input, auto-contrast, NAME,
    original."""
    out = Path(args.out)
    names = (args.photos or sorted(p.name for p in (out / "test" / "input").glob("*.png")))[: args.rows]
    columns = [out / "test" / "input", out / "enhanced" / "autocontrast", out / "enhanced" / args.name,
               out / "test" / "target"]
    cell, gap = args.cell, 4
    grid = Image.new("RGB", (len(columns) * (cell + gap) - gap, len(names) * (cell + gap) - gap), "white")
    for r, name in enumerate(names):
        for c, folder in enumerate(columns):
            img = read_rgb(folder / name).resize((cell, cell), Image.Resampling.LANCZOS)
            grid.paste(img, (c * (cell + gap), r * (cell + gap)))
    Path(args.grid).parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.grid, optimize=True)
    print(f"grid {grid.size} of {names} (input | autocontrast | {args.name} | original) -> {args.grid}")


def cmd_grid_tasks(args: argparse.Namespace) -> None:
    """One picture over several tasks: per task ``--rows`` test photos; columns input | NAME |
    truth (the task folders are ``--out``/<task>)."""
    root = Path(args.out)
    cell, gap = args.cell, 4
    rows = []
    for task in args.tasks:
        names = sorted(p.name for p in (root / task / "test" / "input").glob("*.png"))
        rows += [(root / task, n) for n in names[args.first: args.first + args.rows]]
    grid = Image.new("RGB", (3 * (cell + gap) - gap, len(rows) * (cell + gap) - gap), "white")
    for r, (task_dir, name) in enumerate(rows):
        for c, folder in enumerate((task_dir / "test" / "input", task_dir / "enhanced" / args.name,
                                    task_dir / "test" / "target")):
            img = read_rgb(folder / name).resize((cell, cell), Image.Resampling.LANCZOS)
            grid.paste(img, (c * (cell + gap), r * (cell + gap)))
    Path(args.grid).parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.grid, optimize=True)
    print(f"grid {grid.size}: {[f'{d.name}/{n}' for d, n in rows]} (input | {args.name} | truth) "
          f"-> {args.grid}")


# ---------------------------------------------------------------- one command
BUDGETS: dict[str, list[str]] = {
    # under an hour on a 2-core CPU: 9 runs, two at a time, ~10 min each
    "cpu": ["--steps", "150", "--batch", "4", "--train-size", "64", "--global-size", "64",
            "--threads", "1", "--log-every", "50"],
    # the paper's schedule on our domains: 150 epochs of ceil(45 / 12) = 4 steps
    "gpu": ["--device", "cuda", "--steps", "600", "--batch", "12", "--train-size", "128",
            "--global-size", "128", "--threads", "2", "--log-every", "100"],
}


def cmd_all(args: argparse.Namespace) -> None:
    """build + baselines + sweep (paper, noqam, shipped; 3 seeds) + summary + table + grid."""
    out = ["--out", args.out]
    main([*out, "build", "--photos", args.photos])
    main([*out, "baselines"])
    jobs = args.jobs or (2 if args.budget == "cpu" else 9)
    main([*out, "sweep", "--variants", "paper,noqam,shipped", "--seeds", "0,1,2", "--jobs", str(jobs),
          "--tag", f"_{args.budget}", "--", *BUDGETS[args.budget],
          "--encoder-weights", args.encoder_weights])
    main([*out, "table"])
    main([*out, "grid", f"shipped_{args.budget}_s0", "--grid", str(Path(args.out) / "grid.png")])


# --------------------------------------------------------------------- CLI
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="work folder (git-ignored)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("all", help="the whole benchmark at one budget, from the photos to the table")
    p.add_argument("--budget", choices=sorted(BUDGETS), default="cpu")
    p.add_argument("--photos", default=str(DEFAULT_PHOTOS))
    p.add_argument("--encoder-weights", default="random", help="'pretrained' where the weights exist")
    p.add_argument("--jobs", type=int, default=0, help="runs at a time (default: 2 on CPU, 9 on GPU)")

    p = sub.add_parser("build", help="make the split and the test pairs")
    p.add_argument("--photos", default=str(DEFAULT_PHOTOS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-test", type=int, default=20)
    p.add_argument("--task", choices=("defects", *GRADES), default="defects",
                   help="defects (benchmarks/defects.py) or a look (benchmarks/looks.py)")

    p = sub.add_parser("baselines", help="evaluate the input, the automatic baselines and the oracle")
    p.add_argument("--only", nargs="*", default=[], help="evaluate only these rows")

    p = sub.add_parser("train", help="train one QAGAN variant and evaluate it")
    p.add_argument("name")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--load-size", type=int, default=512)
    p.add_argument("--crop-size", type=int, default=256)
    p.add_argument("--train-size", type=int, default=64)
    p.add_argument("--global-size", type=int, default=64)
    p.add_argument("--lr-g", type=float, default=1e-4)
    p.add_argument("--lr-d", type=float, default=1e-4)
    p.add_argument("--lambda-cc", type=float, default=2.0)
    p.add_argument("--lambda-adv", type=float, default=1.0,
                   help="weight of the generators' adversarial terms ('train' defaults to the paper's 1)")
    p.add_argument("--lambda-idt", type=float, default=None,
                   help="identity loss weight (not in the paper; 'train' defaults to the paper's settings)")
    p.add_argument("--lambda-unet-mean", type=float, default=0.0,
                   help="penalty on the mean of G_H's U-Net residual (not in the paper)")
    p.add_argument("--history", type=int, default=0, help="history buffer size for D (not in the paper)")
    p.add_argument("--pixel-stats", action="store_true", help="global head also sees pixel statistics")
    p.add_argument("--amp", action="store_true", help="float16 autocast on CUDA")
    p.add_argument("--no-qam", action="store_true", help="G_L's QAMs replaced by plain conv blocks")
    p.add_argument("--no-residual", action="store_true", help="generators output sigmoid(conv), no skip")
    p.add_argument("--no-curve", action="store_true", help="no global colour curve in G_H")
    p.add_argument("--qam-literal", action="store_true", help="QAM as eqs. 2 and 5 literally")
    p.add_argument("--encoder-weights", default="random")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--minutes", type=float, default=None,
                   help="train as 'qagan train --minutes M' does (product defaults; the step and "
                        "size options above are then ignored)")
    p.add_argument("--product-steps", type=int, default=None,
                   help="train as 'qagan train --steps N' does (as --minutes, for a fixed number of steps)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                   help="with --minutes or --product-steps: a TrainConfig setting over the product's "
                        "(repeatable), e.g. lambda_idt=25")
    p.add_argument("--preset", default="default", choices=PRESETS,
                   help="with --minutes or --product-steps: the product's preset")
    p.add_argument("--color-steps", type=int, default=None, help="with --minutes: ablation")
    p.add_argument("--head-objective", default=None, help="with --minutes: ablation (pairs, colors)")
    p.add_argument("--export", default=None, choices=("average", "best", "last"),
                   help="with --minutes: ablation (which generators the model gets)")
    p.add_argument("--compare-exports", action="store_true",
                   help="with --minutes: also evaluate the generators of other export rules (NAME_last, "
                        "NAME_selcolor: best colour distance, NAME_avg2: weights averaged over the second "
                        "half) from the same run")
    p.add_argument("--track-test", action="store_true",
                   help="with --minutes: at every validation, the current G_H's PSNR on the test photos "
                        "at 256 px (untimed; to study the selection criterion)")
    p.add_argument("--plain-identity", action="store_true",
                   help="with --minutes: ablation (G_H's identity term on the high crop itself)")

    p = sub.add_parser("sweep", help="train variants x seeds in parallel child processes",
                       epilog="arguments after -- go to every 'train' run, e.g. -- --device cuda")
    p.add_argument("--variants", type=lambda s: s.split(","), default=["paper", "noqam"],
                   help=f"comma-separated, from {', '.join(VARIANTS)}")
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=1, help="runs at a time")
    p.add_argument("--tag", default="", help="suffix for the run names (e.g. _gpu)")
    p.add_argument("train_args", nargs=argparse.REMAINDER)

    p = sub.add_parser("summary", help="mean and spread over seeds of <variant>_s<seed> results")
    p.add_argument("groups", nargs="*")

    sub.add_parser("table", help="print the markdown table of all results")

    p = sub.add_parser("grid-tasks", help="one preview over several tasks (--out is their parent)")
    p.add_argument("name", help="the trained variant shown in the middle column")
    p.add_argument("--tasks", nargs="+", default=["warm", "cool_matte", "punchy", "defects"])
    p.add_argument("--rows", type=int, default=2, help="photos per task")
    p.add_argument("--first", type=int, default=0, help="index of the first test photo shown")
    p.add_argument("--grid", default=str(REPO / "docs" / "quality_grid.png"))
    p.add_argument("--cell", type=int, default=200)

    p = sub.add_parser("grid", help="side-by-side preview image")
    p.add_argument("name", help="the trained variant shown in the third column")
    p.add_argument("--grid", default=str(REPO / "docs" / "quality_grid.png"))
    p.add_argument("--rows", type=int, default=4)
    p.add_argument("--cell", type=int, default=160)
    p.add_argument("--photos", nargs="+", help="these test photos (file names) instead of the first ones")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    commands = {"build": cmd_build, "baselines": cmd_baselines, "train": cmd_train, "table": cmd_table,
                "grid": cmd_grid, "grid-tasks": cmd_grid_tasks, "sweep": cmd_sweep, "summary": cmd_summary,
                "all": cmd_all}
    commands[args.command](args)


if __name__ == "__main__":
    main()
