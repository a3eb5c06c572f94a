"""torchrun on CPU with Gloo: 2 processes, tiny images, a few steps (issue 12).

Each launch runs ``python -m torch.distributed.run`` on ``tests/dist_probe.py``
(``python -m qagan_core`` with its file writes and steps recorded), so these
tests see what every process did.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from unittest import mock

import pytest
import torch
from helpers import TINY_MODEL, perturbed_model, tiny_config, write_photos
from safetensors.torch import load_file

from qagan_core import Trainer, read_model_info, save_model
from qagan_core.checkpoints import read_safetensors

ROOT = Path(__file__).resolve().parents[1]
PROBE = Path(__file__).with_name("dist_probe.py")
LAUNCH_TIMEOUT = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(probe: Path, *args: str, cwd: Path) -> subprocess.Popen:
    probe.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QAGAN_PROBE_DIR": str(probe), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
               "--master-addr", "127.0.0.1", "--master-port", str(_free_port()), str(PROBE), *args]
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=LAUNCH_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.terminate()  # torchrun passes it on, and kills its workers 30 s later
        out, err = process.communicate(timeout=60)
        pytest.fail(f"torchrun did not finish within {LAUNCH_TIMEOUT} s:\n{err[-3000:]}")
    return process.returncode, out, err


def _writes(probe: Path) -> Counter:
    """(rank, path) -> how many times that process wrote that file."""
    lines = (probe / "writes.txt").read_text().splitlines() if (probe / "writes.txt").exists() else []
    return Counter(tuple(line.split("\t")) for line in lines)


def _steps(probe: Path) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    path = probe / "steps.txt"
    for line in path.read_text().splitlines() if path.exists() else []:
        rank, step = line.split("\t")
        out.setdefault(rank, []).append(int(step))
    return out


def _excess(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-3, atol: float = 1e-6) -> float:
    """How far ``a`` is outside ``allclose(a, b, rtol, atol)`` (<= 0: within). Float rounding
    (another reduction order, 1 thread per worker against this process's threads; Adam
    magnifies it on near-zero gradients) stays below ~3e-7; a wrong gradient moves an Adam
    step's weights by about 2 x lr = 2e-4 (the first steps follow the gradient's sign)."""
    a, b = a.double(), b.double()
    return float(((a - b).abs() - atol - rtol * b.abs()).max())


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory, random_encoder):
    """One single-process step saved as a state, a second step in-process (the reference),
    and the same second step by 2 processes resuming that state under torchrun.

    D's score heads are scaled up (spectral norm off) so that D separates the domains by more
    than the hinge margin: then part of the relativistic hinges are inactive and the losses
    depend on whether their batch averages are those of the global batch (with every hinge
    active, local and global averages give the same gradients).
    """
    work = tmp_path_factory.mktemp("ddp")
    low, high = work / "low", work / "high"
    write_photos(low, 3, seed=1, dark=True)
    write_photos(high, 3, seed=2, dark=False)
    config = tiny_config(low, high, steps=2, batch_size=2, color_steps=2, export="last",
                         model=dataclasses.replace(TINY_MODEL, spectral_norm=False))
    single = Trainer(config, random_encoder)
    with torch.no_grad():
        for d in (single.d_h, single.d_l):
            for head in (d.mid_head, d.final_head):
                head.weight.mul_(100.0)
    single.train_step()
    single.save_state(work / "one.state.safetensors")
    process = _torchrun(work / "probe", "train", "--resume", "one.state.safetensors", "--out",
                        "m.safetensors", cwd=work)
    single.train_step()  # meanwhile: the reference second step, its state kept in memory
    reference = {}
    with mock.patch("qagan_core.checkpoints.write_safetensors",
                    lambda path, tensors, meta: reference.update(tensors=tensors, meta=meta)):
        single.save_state(work / "unused")
    code, out, err = _finish(process)
    assert code == 0, err
    return work, out, reference


def test_one_ddp_step_equals_a_single_process_step_on_the_global_batch(ddp_run) -> None:
    """Weights, Adam moments and the colour head's optimizer after one 2-process step (global
    batch 2, 1 per process) are those of one process on the same batch; so is the loss."""
    work, _, reference = ddp_run
    ddp, ddp_meta = read_safetensors(work / "m.state.safetensors")
    ref, ref_meta = reference["tensors"], reference["meta"]
    compared = [k for k in ref if ref[k].is_floating_point() and k in ddp and ref[k].numel()]
    assert len(compared) > 100 and any(k.startswith("opt_g.") for k in compared)
    assert any(k.startswith("color.opt.") for k in compared)
    excess = {k: _excess(ddp[k], ref[k]) for k in compared}
    worst = max(excess, key=excess.get)
    assert excess[worst] <= 0, (worst, excess[worst])
    assert torch.equal(ddp["color.rng"], ref["color.rng"])
    assert int(ddp_meta["step"]) == ref_meta["step"] == 2
    ddp_loss = json.loads(ddp_meta["history"])[-1]["loss_g"]
    ref_loss = ref_meta["history"][-1]["loss_g"]
    assert ddp_loss == pytest.approx(ref_loss, rel=1e-5)
    # and both processes hold the same networks
    rank0, rank1 = (load_file(work / "probe" / f"rank{r}.safetensors") for r in (0, 1))
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)


def test_a_two_process_run_writes_one_model_and_one_state(ddp_run) -> None:
    work, stdout, _ = ddp_run
    assert stdout.count("model written to") == 1  # rank 0 reports
    model, state = (work / "m.safetensors").resolve(), (work / "m.state.safetensors").resolve()
    assert _writes(work / "probe") == Counter({("0", str(model)): 1, ("0", str(state)): 1})
    assert read_model_info(model)["training"]["steps"] == 2
    assert (work / "probe" / "rank1.safetensors").exists()  # rank 1 did train


def test_sigterm_to_one_rank_stops_both_with_one_saved_state(ddp_run, random_encoder) -> None:
    """A preemption signal to one process: both stop at the same step, rank 0 saves the state
    once, and that 2-process state resumes in a single process."""
    work, _, _ = ddp_run
    run = work / "sigterm"
    run.mkdir()
    shutil.copy(work / "m.state.safetensors", run / "one.state.safetensors")
    for domain in ("low", "high"):
        (run / domain).symlink_to(work / domain)
    probe = run / "probe"
    process = _torchrun(probe, "train", "--resume", "one.state.safetensors", "--steps", "500",
                        "--out", "s.safetensors", cwd=run)
    deadline = time.monotonic() + LAUNCH_TIMEOUT
    while max(_steps(probe).get("1", [0])) < 3:  # rank 1 has trained a step
        if process.poll() is not None or time.monotonic() > deadline:
            _finish(process)
            pytest.fail(f"rank 1 did not train a step: {_steps(probe)}")
        time.sleep(0.2)
    os.kill(int((probe / "pid1").read_text()), signal.SIGTERM)
    code, _, err = _finish(process)
    assert code != 0 and "cancelled: training cancelled at step" in err, err
    steps = _steps(probe)
    stopped = max(steps["0"])
    assert max(steps["1"]) == stopped < 500
    state = (run / "s.state.safetensors").resolve()
    writes = _writes(probe)
    assert writes[("0", str(state))] == 1 and sum(writes.values()) == 2, writes  # the state and model
    assert read_model_info(state)["training"]["steps"] == stopped

    resumed = Trainer.resume(state, {"low_dir": str(work / "low"), "high_dir": str(work / "high")},
                             encoder=random_encoder)
    assert resumed.step == stopped and resumed.distributed is None


def test_two_processes_enhance_each_file_once_with_one_summary(tmp_path: Path, random_encoder) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    paths = write_photos(photos, 5, seed=3, dark=True)
    (photos / "bad.png").write_text("not an image")
    save_model(perturbed_model(random_encoder, TINY_MODEL), tmp_path / "model.safetensors")
    out.mkdir()
    kept = out / paths[0].name
    kept.write_bytes(b"an earlier output")
    probe = tmp_path / "probe"
    code, stdout, err = _finish(_torchrun(
        probe, "enhance", "photos", "--out", "out", "--model", "model.safetensors",
        "--skip-existing", "--device", "cpu", cwd=tmp_path))
    assert code == 0, err
    writes = _writes(probe)
    expected = {str((out / p.name).resolve()) for p in paths[1:]}
    assert {path for _, path in writes} == expected
    assert all(n == 1 for n in Counter(path for _, path in writes).values()), writes  # none twice
    assert {rank for rank, _ in writes} == {"0", "1"}  # shared out
    assert kept.read_bytes() == b"an earlier output"
    assert stdout.count("image(s) enhanced") == 1, stdout
    assert "4 of 6 image(s) enhanced into out" in stdout
    assert "1 already existed" in stdout and "1 unreadable file(s) skipped:" in stdout
    assert "bad.png:" in stdout
