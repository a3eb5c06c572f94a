"""Peak resident memory of ``qagan enhance`` on very large photos (issue 10 item 5).

Each case runs in its own child process; its peak RSS is the child's own
``ru_maxrss`` (``os.wait4``). Usage::

    python benchmarks/memory.py [--sizes 90,178] [--modes fast,exact] [--exact-tiles 60]
                                [--work DIR]

Fast mode runs the command itself, ``python -m qagan_core enhance BIG.png --out
OUT --model M --encoder random --mode fast``, to the end (read, enhance, write).
Exact mode takes tens of minutes on a CPU at these sizes, so its child runs
what that command runs (``enhance_files``, the CLI's engine) with ``mode="exact"``
and stops it after ``--exact-tiles`` tiles (0 = run to the end): its peak is the
read and the tiling with the full-size buffers allocated and at least one band of
tiles blended and handed on; the write, the same as in fast mode, is not reached.

Photos are synthetic 8-bit RGB PNGs (smooth colour gradients plus noise) of
about the given megapixels at 4:3 (178 MP is ``images.MAX_PIXELS``); the model
is a fresh QAGAN with the seeded random encoder (memory does not depend on the
weights).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qagan_core.checkpoints import load_model, save_model  # noqa: E402
from qagan_core.encoder import resolve_encoder  # noqa: E402
from qagan_core.errors import Cancelled  # noqa: E402
from qagan_core.model import ModelConfig  # noqa: E402
from qagan_core.model.qagan import QAGAN  # noqa: E402

STRIP_ROWS = 512


def photo_size(megapixels: float) -> tuple[int, int]:
    """Width and height (4:3, neither a multiple of 16) of about ``megapixels``."""
    h = int((megapixels * 1e6 * 3 / 4) ** 0.5)
    w = int(megapixels * 1e6 / h)
    return w - (w % 16 == 0), h - (h % 16 == 0)


def write_photo(path: Path, width: int, height: int) -> None:
    """A synthetic 8-bit RGB PNG: colour gradients plus noise, built strip by strip."""
    rng = np.random.default_rng(0)
    img = Image.new("RGB", (width, height))
    u = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    for r0 in range(0, height, STRIP_ROWS):
        r1 = min(height, r0 + STRIP_ROWS)
        v = np.linspace(r0 / height, r1 / height, r1 - r0, dtype=np.float32)[:, None, None]
        base = np.concatenate([u + 0 * v, v + 0 * u, 0.5 * (u + v)], axis=2)
        noise = rng.normal(0, 0.03, base.shape).astype(np.float32)
        strip = (np.clip(0.15 + 0.7 * base + noise, 0, 1) * 255).astype(np.uint8)
        img.paste(Image.fromarray(strip, "RGB"), (0, r0))
    img.save(path, compress_level=1)


def peak_rss(cmd: list[str]) -> tuple[float, float, int]:
    """(peak RSS in GiB, wall seconds, exit status) of the child process running ``cmd``."""
    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            print(err.read()[-2000:], file=sys.stderr)
    return usage.ru_maxrss / 2**20, time.monotonic() - start, code


def exact_child(photo: str, out: str, model_path: str, tiles: int) -> None:
    """What ``qagan enhance --mode exact`` runs, stopped after ``tiles`` tiles (0: never)."""
    from qagan_core.inference.folder import enhance_files

    polls = {"n": 0}

    def should_stop() -> bool:  # polled once per tile
        polls["n"] += 1
        return 0 < tiles < polls["n"]

    model = load_model(model_path, encoder_weights="random")
    try:
        enhance_files([(Path(photo), Path(out) / Path(photo).name)], model, options={
            "mode": "exact", "should_stop": should_stop}, if_exists="overwrite")
    except Cancelled:
        print(f"stopped after {tiles} tiles", file=sys.stderr)


def main() -> None:
    if sys.argv[1:2] == ["--exact-child"]:
        exact_child(*sys.argv[2:5], int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="90,178", help="megapixels, comma-separated")
    parser.add_argument("--modes", default="fast,exact")
    parser.add_argument("--exact-tiles", type=int, default=60,
                        help="stop exact runs after this many tiles (0 = run to the end)")
    parser.add_argument("--work", help="folder for the photos and outputs (default: a temporary one)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="qagan_memory_"))
    work.mkdir(parents=True, exist_ok=True)
    model_path = work / "model.safetensors"
    if not model_path.exists():
        save_model(QAGAN(ModelConfig(), resolve_encoder("random")), model_path, overwrite=True)
    rows = []
    for mp in (float(s) for s in args.sizes.split(",")):
        w, h = photo_size(mp)
        photo = work / f"photo_{w}x{h}.png"
        if not photo.exists():
            write_photo(photo, w, h)
        for mode in args.modes.split(","):
            out = work / f"out_{mode}"
            if mode == "exact":
                cmd = [sys.executable, str(Path(__file__).resolve()), "--exact-child", str(photo),
                       str(out), str(model_path), str(args.exact_tiles)]
            else:
                cmd = [sys.executable, "-m", "qagan_core", "enhance", str(photo), "--out", str(out),
                       "--model", str(model_path), "--encoder", "random", "--mode", mode]
            gb, wall, code = peak_rss(cmd)
            stopped = mode == "exact" and args.exact_tiles > 0
            note = (f"{wall:.0f} s" + (f", stopped after {args.exact_tiles} tiles" if stopped else "")
                    + ("" if code == 0 else f", exit {code}"))
            rows.append((f"{w}x{h} ({w * h / 1e6:.0f} MP)", mode, gb, note))
            print(f"{rows[-1][0]:>24}  {mode:>5}  {gb:5.2f} GiB  {note}", flush=True)
    print("\n| image | mode | peak RSS | run |\n|---|---|---|---|")
    for name, mode, gb, note in rows:
        print(f"| {name} | {mode} | {gb:.2f} GiB | {note} |")


if __name__ == "__main__":
    main()
