"""kill -9 during saves: is any model or training state ever corrupt, and are the leftovers
cleaned up? (issue 10, reliability)

A short CLI training on the bundled sample photos saves its model and state after every
step; a watcher kills it with SIGKILL while one of its hidden temporary files exists
(``.NAME.safetensors.*.tmp``: a save in progress), after a random delay of 0-150 ms. After
every kill the model and the state must load (the last complete version), and the next
run (``--resume``) must remove the temporary files the killed one left. Nothing here uses
the photos of ``../shared``.

    python benchmarks/kill_during_save.py --kills 27 [--work /tmp/qagan_kill]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from qagan_core import load_model  # noqa: E402
from qagan_core.checkpoints import read_training_state  # noqa: E402

SAMPLES = REPO / "qagan_core" / "samples"
TRAIN = ["--encoder", "random", "--steps", "100000", "--save-every", "1", "--batch-size", "1",
         "--load-size", "96", "--crop-size", "64", "--train-size", "64", "--color-steps", "1"]


def temp_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


def run_until_killed(cmd: list[str], folder: Path, rng: random.Random, timeout: float) -> str:
    """Start ``cmd``; SIGKILL it shortly after a temporary file appears. Returns what happened."""
    before = set(temp_files(folder))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    start = time.monotonic()
    try:
        while time.monotonic() - start < timeout:
            if proc.poll() is not None:
                return f"exited by itself ({proc.returncode}): {proc.stderr.read().decode()[-300:]}"
            if set(temp_files(folder)) - before:
                time.sleep(rng.uniform(0.0, 0.15))
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return "killed during a save"
            time.sleep(0.005)
        return "no save seen"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def check_files(model: Path, state: Path) -> list[str]:
    """Problems loading the model and the state (empty: both load)."""
    problems = []
    for what, path, read in (("model", model, load_model), ("state", state, read_training_state)):
        if not path.exists():
            continue
        try:
            if what == "model":
                read(path, encoder_weights="random")
            else:
                read(path)
        except Exception as exc:  # any failure to read is what we count
            problems.append(f"{what}: {type(exc).__name__}: {exc}")
    return problems


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=27)
    ap.add_argument("--work", help="working folder (default: a new temporary one, removed at the end)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for a save")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(args.work or tempfile.mkdtemp(prefix="qagan_kill_"))
    work.mkdir(parents=True, exist_ok=True)
    model, state = work / "look.safetensors", work / "look.state.safetensors"
    base = [sys.executable, "-m", "qagan_core", "train"]
    first = [*base, "--low", str(SAMPLES), "--high", str(SAMPLES), "--out", str(model), *TRAIN]
    kills = corrupt = left = cleaned = 0
    for k in range(args.kills):
        cmd = [*first, "--overwrite"] if not state.exists() else [*base, "--resume", str(state)]
        leftovers = set(temp_files(work))
        outcome = run_until_killed(cmd, work, rng, args.timeout)
        if outcome != "killed during a save":
            raise SystemExit(f"run {k}: {outcome}")
        kills += 1
        cleaned += len(leftovers - set(temp_files(work)))  # removed by this run
        now = temp_files(work)
        left += len(set(now) - leftovers)
        problems = check_files(model, state)
        corrupt += len(problems)
        print(f"kill {k + 1}: {len(now)} temporary files now; "
              f"{'; '.join(problems) if problems else 'model and state load'}", flush=True)
    still = temp_files(work)
    print(f"{kills} kills during saves: {corrupt} unreadable model/state files; the kills left "
          f"{left} temporary files, {cleaned} were removed by the next run, {len(still)} remain "
          f"from the last kill (removed by the next save of the same file)")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    if corrupt:
        raise SystemExit(1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
