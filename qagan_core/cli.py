"""Command line: ``python -m qagan_core {train,enhance,degrade,evaluate,info,demo}``.

User errors (missing folder, no readable images, unreadable or wrong model
file, missing encoder weights) print one ``error:`` line and exit with status
2; Ctrl-C (or SIGTERM) during training saves the training state and exits with
130. ``train`` and ``enhance`` also run under torchrun (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import distributed
from .errors import Cancelled, EncoderWeightsMissing, QAGANError
from .inference.enhance import MODES
from .training.config import EXPORTS, HEAD_OBJECTIVES, PRESETS

if TYPE_CHECKING:
    import torch

log = logging.getLogger("qagan")


def _add_common_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="enhancement model (.safetensors)")
    p.add_argument("--models-dir", help="folder holding the VGG-19 encoder weights file")
    p.add_argument("--encoder", "--encoder-weights", dest="encoder_weights",
                   help="explicit VGG-19 weights file (.pth or .safetensors), as train's --encoder")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m qagan_core",
        description="QAGAN: learn a photo look from two unpaired folders, then enhance photos "
                    "(also installed as the 'qagan' command).",
        epilog="Start with: train --low DIR --high DIR --out MODEL.safetensors --minutes 15")
    parser.add_argument("-v", "--verbose", action="store_true", help="more log output")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train on two folders of unpaired photos")
    t.add_argument("--low", help="folder of ordinary (low-quality) photos")
    t.add_argument("--high", help="folder of photos with the look you want")
    t.add_argument("--out", help="enhancement model to write (.safetensors; with --resume: "
                                 "default the state's name without .state)")
    t.add_argument("--state", help="training state file (default: OUT with .state.safetensors)")
    t.add_argument("--resume", help="continue from this training state (its settings; only the "
                                    "options given here change them)")
    t.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    t.add_argument("--drop-state", action="store_true",
                   help="delete the training state once training has finished (it is needed only "
                        "to continue training; kept when stopped early)")
    group = t.add_mutually_exclusive_group()
    group.add_argument("--minutes", type=float,
                       help="train for this long; sizes fit the device unless given (see README)")
    group.add_argument("--steps", type=int, help="number of training steps")
    group.add_argument("--epochs", type=int, help="number of epochs (default 150, the paper's)")
    t.add_argument("--preset", choices=PRESETS, default=None,
                   help="default: learn the look the high folder carries; fixes: the low photos each have "
                        "their own defects (haze, casts, exposure) and the high folder holds well-made "
                        "photos; paper: the paper's method and settings exactly")
    t.add_argument("--batch-size", type=int, help="default 12 (paper); 4 with --minutes on a CPU; under "
                                                  "torchrun the global batch, shared by the processes")
    t.add_argument("--workers", type=int,
                   help="DataLoader workers preparing batches, per process (default: 4 on a GPU, 0 on a "
                        "CPU)")
    t.add_argument("--lr", type=float, help="generator learning rate (default 1e-4)")
    t.add_argument("--lr-d", type=float, help="discriminator learning rate (default: --lr)")
    t.add_argument("--lambda-cc", type=float, help="cycle-consistency weight (default 2)")
    t.add_argument("--lambda-adv", type=float,
                   help="weight of the generators' adversarial terms (paper: 1; default: the measured "
                        "best, BENCHMARKS.md)")
    t.add_argument("--lambda-idt", type=float,
                   help="identity loss weight (not in the paper; default: the measured best, BENCHMARKS.md)")
    t.add_argument("--lambda-unet-mean", type=float,
                   help="weight of the penalty on the mean colour shift of G_H's U-Net (not in the paper; "
                        "0 = off; default: the measured best, BENCHMARKS.md)")
    t.add_argument("--history-size", type=int,
                   help="generated images kept for the discriminators (0 = none; default: measured best)")
    t.add_argument("--color-steps", type=int,
                   help="global-head updates per step (not in the paper; 0 = off; default 16)")
    t.add_argument("--head-objective", choices=HEAD_OBJECTIVES,
                   help="what trains the global head: pairs (learned-degradation pairs, the default), "
                        "quantile_pairs (quantile-transfer pairs, the fixes preset's) or colors (the "
                        "colour-distribution term)")
    t.add_argument("--head-weight-decay", type=float,
                   help="decoupled weight decay on the global head's updates (0 = off, the default; the "
                        "fixes preset: 1; BENCHMARKS.md)")
    t.add_argument("--head-updates", type=int,
                   help="the global head's updates over the whole run, then it is fixed (0 = no limit, "
                        "the default; the fixes preset: 2128; BENCHMARKS.md)")
    t.add_argument("--generic-defects", type=float,
                   help="with --head-objective quantile_pairs: the share of the head's training pairs that "
                        "also get a random global defect (0 = none, the default; the fixes preset: 0.5; "
                        "BENCHMARKS.md)")
    t.add_argument("--export", choices=EXPORTS,
                   help="which generators the model gets: average (their weights averaged over the "
                        "second half of the run, with a head budget only after its last update; the "
                        "default), best (by the no-reference check) or last")
    t.add_argument("--load-size", type=int, help="photos are first resized to this long side (512)")
    t.add_argument("--crop-size", type=int, help="random crop side (256)")
    t.add_argument("--train-size", type=int, help="crops are resized to this (128; 64 with --minutes "
                                                  "on a CPU)")
    t.add_argument("--seed", type=int)
    t.add_argument("--encoder",
                   help="pretrained (torchvision VGG-19, the default), random (testing only), or a "
                        "weights file")
    t.add_argument("--models-dir", help="folder searched for the VGG-19 weights file")
    t.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    t.add_argument("--amp", action="store_true", default=None, help="mixed precision (CUDA only)")
    t.add_argument("--save-every", type=int, help="save model and state every N steps (default 500)")
    t.add_argument("--preview-every", type=int,
                   help="write a preview of a fixed low-quality sample every N steps")

    e = sub.add_parser("enhance", help="enhance photos with a trained model")
    _add_common_model_args(e)
    e.add_argument("inputs", nargs="+", help="image files or folders (searched recursively)")
    e.add_argument("--out", required=True, help="output folder (same file names as the inputs)")
    e.add_argument("--strength", type=float, default=1.0, help="0 = input, 1 = full enhancement")
    e.add_argument("--mode", default="auto", choices=MODES,
                   help="fast: network at --working-size, detail transferred at full size; exact: "
                        "full-resolution network, tiled when large; auto: fast above --working-size")
    e.add_argument("--working-size", type=int, default=1024, help="long side for fast mode")
    e.add_argument("--tile", type=int, default=None, help="tile size for exact mode (0 = never tile)")
    e.add_argument("--format", choices=("same", "png", "jpg", "webp", "tif"), default="same",
                   help="output format (default: that of each input)")
    e.add_argument("--skip-existing", action="store_true",
                   help="keep outputs that already exist (continue an interrupted batch)")

    d = sub.add_parser("degrade", help="render high-quality photos in the look of a low-quality one (G_L)")
    _add_common_model_args(d)
    d.add_argument("--reference", required=True, help="a low-quality reference photo")
    d.add_argument("inputs", nargs="+", help="image files or folders")
    d.add_argument("--out", required=True, help="output folder")

    v = sub.add_parser("evaluate", help="PSNR/SSIM of the enhanced low folder against references")
    _add_common_model_args(v)
    v.add_argument("--low", required=True, help="folder of low-quality inputs")
    v.add_argument("--reference", required=True, help="folder of references with the same file names")
    v.add_argument("--border", type=int, default=4, help="pixels cropped from each side before scoring")

    i = sub.add_parser("info", help="show what a model or training-state file contains")
    i.add_argument("model")

    m = sub.add_parser("demo", help="train briefly on the bundled sample photos and enhance them")
    m.add_argument("--out", default="qagan_demo_output", help="output folder")
    m.add_argument("--steps", type=int, default=40)
    m.add_argument("--encoder", default="auto",
                   help="auto: pretrained VGG-19 if reachable, else a random encoder (announced)")
    m.add_argument("--device", default="auto")
    return parser


def _collect_inputs(inputs: list[str]) -> list[tuple[Path, Path]]:
    """(file, path relative to its input root) for every image named or found."""
    from .images import IMAGE_EXTENSIONS, list_images

    found: list[tuple[Path, Path]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found += [(f, f.relative_to(p)) for f in list_images(p)]
        elif p.is_file():
            if p.suffix.lower() not in IMAGE_EXTENSIONS:
                raise QAGANError(f"not an image file type: {p}")
            found.append((p, Path(p.name)))
        else:
            raise QAGANError(f"input not found: {p}")
    if not found:
        raise QAGANError(f"no images found in {', '.join(inputs)}")
    return found


def _output_path(out_dir: Path, rel: Path, fmt: str) -> Path:
    if fmt == "same":
        return out_dir / rel
    return out_dir / rel.with_suffix("." + fmt)


def _load(args: argparse.Namespace, device: torch.device | None = None):
    from .checkpoints import load_model
    from .devices import pick_device

    if not args.model:
        raise QAGANError("--model is empty: name a model file (.safetensors)")
    model = load_model(args.model, models_dir=args.models_dir, device=device or pick_device(args.device),
                       encoder_weights=args.encoder_weights)
    if model.encoder.identity.is_random:
        log.warning("%s was trained with a RANDOM encoder (testing only)", args.model)
    return model


def _in_process_group(run, args: argparse.Namespace) -> int:
    """``run(args, group)`` inside torchrun's process group (``group`` is None without torchrun)."""
    group = distributed.setup(args.device)
    try:
        return run(args, group)
    finally:
        distributed.shutdown(group)


def cmd_train(args: argparse.Namespace) -> int:
    return _in_process_group(_train, args)


def _train(args: argparse.Namespace, group: distributed.Distributed | None) -> int:
    from .devices import pick_device
    from .progress import TextProgress
    from .training import TrainConfig, Trainer, budget_sizes, preset_settings
    from .training.loader import default_workers

    main = group is None or group.is_main
    if not main:  # rank 0 reports; the others print errors only
        logging.getLogger("qagan").setLevel(logging.ERROR)
    if not args.resume and not (args.low and args.high and args.out):
        raise QAGANError("train needs --low, --high and --out (or --resume STATE)")
    if args.resume and not args.out:
        name = Path(args.resume).name
        if not name.endswith(".state.safetensors"):
            raise QAGANError(f"--resume {args.resume}: pass --out (the state is not named "
                             "MODEL.state.safetensors)")
        args.out = str(Path(args.resume).with_name(name[: -len(".state.safetensors")] + ".safetensors"))
    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise QAGANError(f"--out must end in .safetensors: {out}")
    if out.exists() and not args.overwrite and not args.resume:
        raise QAGANError(f"{out} exists; pass --overwrite to replace it or --resume to continue")
    state = Path(args.state) if args.state else out.with_name(out.stem + ".state.safetensors")
    if not args.resume and distributed.restarted() and state.is_file():
        log.warning("torchrun restarted the processes: resuming from %s", state)
        args.resume = str(state)
    device = group.device if group else pick_device(args.device or "auto")
    given = {
        "low_dir": args.low, "high_dir": args.high, "batch_size": args.batch_size,
        "lr_g": args.lr, "lr_d": args.lr_d if args.lr_d is not None else args.lr,
        "lambda_cc": args.lambda_cc, "lambda_adv": args.lambda_adv, "lambda_idt": args.lambda_idt,
        "lambda_unet_mean": args.lambda_unet_mean,
        "history_size": args.history_size, "color_steps": args.color_steps,
        "head_objective": args.head_objective, "head_weight_decay": args.head_weight_decay,
        "head_updates": args.head_updates, "head_generic_defects": args.generic_defects,
        "export": args.export,
        "load_size": args.load_size, "crop_size": args.crop_size, "train_size": args.train_size,
        "seed": args.seed, "encoder_weights": args.encoder, "models_dir": args.models_dir,
        "device": args.device, "amp": args.amp, "save_every": args.save_every,
        "preview_every": args.preview_every, "minutes": args.minutes,
        "workers": args.workers if args.workers is not None
        else default_workers(device, group.local_world_size if group else 1),
    }
    given = {k: v for k, v in given.items() if v is not None}
    if args.steps is not None:
        given["steps"], given["minutes"] = args.steps, None
    if args.epochs is not None:
        given["epochs"], given["steps"], given["minutes"] = args.epochs, None, None
    if args.resume:
        if args.preset:
            raise QAGANError("--preset chooses how a new training starts; it cannot change a resumed one")
        trainer = Trainer.resume(args.resume, given, model_path=out, state_path=state,
                                 distributed=group)
    else:
        settings = {"save_every": 500, **preset_settings(args.preset or "default")}
        if args.minutes:
            settings.update(budget_sizes(device.type))
        trainer = Trainer(TrainConfig(**{**settings, **given}), model_path=out, state_path=state,
                          distributed=group)
    for folder in (trainer.low, trainer.high):
        if folder.skipped:
            log.warning("%d unreadable file(s) skipped in %s", len(folder.skipped), folder.folder)
    if main:
        print(trainer.describe(), file=sys.stderr)

    stop = {"requested": False}

    def on_signal(signum, frame):
        # A second Ctrl-C aborts a single process; under torchrun the launcher passes a Ctrl-C
        # on as a second signal, and SIGTERM (a scheduler's preemption) always saves.
        if stop["requested"] and signum == signal.SIGINT and group is None:
            raise KeyboardInterrupt
        if not stop["requested"] and main:
            again = " (Ctrl-C again to abort without saving)" if group is None else ""
            print(f"\nstopping after this step{again}...", file=sys.stderr)
        stop["requested"] = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    bar = TextProgress(trainer.total_steps, "train") if main else None
    preview_dir = out.with_name(out.stem + "_previews")

    def on_preview(step: int, image) -> None:
        from .images import save_image

        save_image(image, preview_dir / f"step_{step:07d}.jpg")

    def on_progress(p) -> None:
        if bar is not None:
            losses = p.losses
            bar.update(p.step, f"G {losses['loss_g']:.3f} D {losses['loss_d_h'] + losses['loss_d_l']:.3f}",
                       total=p.total)

    try:
        trainer.run(on_progress=on_progress, on_preview=on_preview,
                    should_stop=lambda: stop["requested"])
    finally:
        if bar is not None:
            bar.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not main:
        return 0
    print(f"ran {trainer.step} step{'s' if trainer.step != 1 else ''} in {trainer.elapsed_s / 60:.1f} min "
          f"of training; the model is {trainer.exported()}", file=sys.stderr)
    if args.drop_state:
        state.unlink(missing_ok=True)
        print(f"model written to {out} (training state deleted: --drop-state)")
    else:
        print(f"model written to {out}\ntraining state (for --resume) written to {state}")
    return 0


def cmd_enhance(args: argparse.Namespace) -> int:
    return _in_process_group(_enhance, args)


def _enhance(args: argparse.Namespace, group: distributed.Distributed | None) -> int:
    from .inference.folder import enhance_files, merge_reports
    from .progress import TextProgress

    files = _collect_inputs(args.inputs)
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise QAGANError(f"--out must be a folder; {out_dir} is a file")
    options: dict = {"mode": args.mode, "working_size": args.working_size}
    if args.tile is not None:
        options["tile"] = args.tile
    jobs = [(path, _output_path(out_dir, rel, args.format)) for path, rel in files]
    if any(src.resolve() == dst.resolve() for src, dst in jobs):
        raise QAGANError(f"the output folder would overwrite the inputs: {out_dir}")
    sources: dict[Path, Path] = {}
    for src, dst in jobs:
        if dst in sources:
            raise QAGANError(f"{sources[dst]} and {src} would both be written to {dst}: enhance "
                             "them into different --out folders, or pass their folder instead")
        sources[dst] = src
    mine = jobs
    if group is not None:  # each file to exactly one process
        if not group.same_everywhere("\n".join(f"{a}\t{b}" for a, b in jobs)):
            raise QAGANError("the processes found different files to enhance (did the input folder "
                             "change while they started?): start again")
        mine = group.shard(jobs)
    model = _load(args, group.device if group else None)
    main = group is None or group.is_main
    label = "enhance" if group is None else f"enhance (process 0 of {group.world_size})"
    bar = TextProgress(len(mine), label) if main else None
    report = enhance_files(mine, model, args.strength, options,
                           "skip" if args.skip_existing else "overwrite",
                           on_progress=lambda done, total, path: bar and bar.update(done))
    if bar is not None:
        bar.close()
    if group is not None:
        report = merge_reports(group.gather(report))
        if not main:
            return 0 if report.written or report.existing else 2
    for path, reason in report.failed:
        log.warning("skipped %s: %s", path, reason)
    print(report.summary(dst=out_dir))
    return 0 if report.written or report.existing else 2


def cmd_degrade(args: argparse.Namespace) -> int:
    from .images import load_image, save_image
    from .inference import degrade
    from .progress import TextProgress

    files = _collect_inputs(args.inputs)
    reference = load_image(args.reference)
    model = _load(args)
    out_dir = Path(args.out)
    bar = TextProgress(len(files), "degrade")
    for n, (path, rel) in enumerate(files, 1):
        save_image(degrade(load_image(path), reference, model), out_dir / rel)
        bar.update(n)
    bar.close()
    print(f"{len(files)} image(s) written to {out_dir}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .images import list_images, load_image
    from .inference import enhance
    from .metrics import psnr, ssim
    from .progress import TextProgress

    low_root, ref_root = Path(args.low), Path(args.reference)
    low_files = list_images(low_root)
    if not low_files:
        raise QAGANError(f"no images in folder {low_root}")
    refs = {f.relative_to(ref_root).with_suffix(""): f for f in list_images(ref_root)}
    pairs = [(f, refs.get(f.relative_to(low_root).with_suffix(""))) for f in low_files]
    missing = [str(f.relative_to(low_root)) for f, r in pairs if r is None]
    if missing:
        raise QAGANError(f"{len(missing)} image(s) have no reference of the same name in {ref_root}, "
                         f"e.g. {missing[0]}")
    model = _load(args)
    rows = []
    bar = TextProgress(len(pairs), "evaluate")
    for n, (low, ref) in enumerate(pairs, 1):
        x, r = load_image(low), load_image(ref)
        if x.shape != r.shape:
            raise QAGANError(f"{low} and {ref} differ in size")
        y = enhance(x, model)
        q = lambda t: (t * 255).round() / 255  # noqa: E731 - score 8-bit images as saved
        rows.append((psnr(q(x), q(r), args.border), ssim(q(x), q(r), args.border),
                     psnr(q(y), q(r), args.border), ssim(q(y), q(r), args.border)))
        bar.update(n)
    bar.close()
    k = len(rows)
    mean = [sum(r[i] for r in rows) / k for i in range(4)]
    encoder = model.encoder.identity
    print(f"images: {k} (border {args.border}); encoder: {encoder.kind} ({encoder.source})"
          + (" - RANDOM, testing only" if encoder.is_random else ""))
    print(f"input    PSNR {mean[0]:.2f} dB  SSIM {mean[1]:.4f}")
    print(f"enhanced PSNR {mean[2]:.2f} dB  SSIM {mean[3]:.4f}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    import json

    from .checkpoints import read_model_info

    print(json.dumps(read_model_info(args.model), indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(Path(args.out), steps=args.steps, encoder=args.encoder, device=args.device)
    return 0


COMMANDS = {"train": cmd_train, "enhance": cmd_enhance, "degrade": cmd_degrade,
            "evaluate": cmd_evaluate, "info": cmd_info, "demo": cmd_demo}


DISTRIBUTED_COMMANDS = ("train", "enhance")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s: %(message)s")
    rank = distributed.rank_from_env() if distributed.launched() else 0
    who = f" (process {rank})" if rank else ""  # rank 0 speaks for all; the others name themselves
    try:
        if distributed.launched() and args.command not in DISTRIBUTED_COMMANDS:
            raise QAGANError(f"{args.command} runs in one process: start it without torchrun "
                             f"(torchrun runs {' and '.join(DISTRIBUTED_COMMANDS)})")
        return COMMANDS[args.command](args)
    except Cancelled as exc:
        if not rank:
            print(f"cancelled: {exc}", file=sys.stderr)
        return 130
    except EncoderWeightsMissing as exc:
        print(f"error{who}: {exc}, or name the file with --encoder FILE or its folder with --models-dir "
              "DIR (--encoder random trains and runs without them, for testing only)", file=sys.stderr)
        return 2
    except QAGANError as exc:
        print(f"error{who}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\naborted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `info MODEL | head -1`: the reader left; not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:  # unwritable output, over-long name, full disk...
        where = f": {exc.filename!r}" if exc.filename else ""
        print(f"error{who}: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
