"""The real ComfyUI host: set up from its source archive, started once for all host tests.

The pack is copied into ``custom_nodes/comfyui-qagan`` as a clone of this working tree
would hold it (the files git tracks or would track), and ComfyUI runs with its default
caching, on the CPU, in a temporary ``--base-directory``. Skipped only when the archive
is absent (``QAGAN_COMFYUI_ARCHIVE``); ``QAGAN_COMFYUI_DIR`` and ``QAGAN_COMFYUI_PYTHON``
select an existing ComfyUI checkout and its Python instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from comfyui_install import Host, HostSetupError, archive_path, ensure_host
from helpers import write_photos
from host_client import PACK_DIR_NAME, ROOT, Server, api_workflow, tracked_files
from PIL import Image


@pytest.fixture(scope="session")
def host() -> Host:
    try:
        return ensure_host()
    except FileNotFoundError:
        pytest.skip(f"real-host tests: no ComfyUI archive at {archive_path()} "
                    "(set QAGAN_COMFYUI_ARCHIVE, or QAGAN_COMFYUI_DIR to a checkout)")
    except HostSetupError as error:
        pytest.fail(str(error))


def _install_pack(custom_nodes: Path) -> Path:
    target = custom_nodes / PACK_DIR_NAME
    for name in tracked_files():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    return target


def _inputs(base: Path) -> None:
    inp = base / "input"
    write_photos(inp / "qagan_low", 3, seed=1, dark=True)
    write_photos(inp / "qagan_high", 3, seed=2, dark=False)
    rng = np.random.default_rng(3)
    for name in ("qagan_example.png", "qagan_reference.png"):
        Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(inp / name)
    broken = inp / "qagan_broken"  # listed (the names look like photos) but nothing decodes
    broken.mkdir()
    for name in ("a.png", "b.jpg"):
        (broken / name).write_bytes(b"not an image")
    models = base / "models" / "qagan"
    models.mkdir(parents=True)
    (base / "user").mkdir()
    (models / "corrupt.safetensors").write_bytes(b"\x00" * 64)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def comfyui(host: Host, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("comfy_base")
    _install_pack(base / "custom_nodes")
    _inputs(base)
    port = _free_port()
    log_path = base / "comfyui.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [str(host.python), "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
         "--disable-auto-launch", "--disable-api-nodes", "--base-directory", str(base),
         "--database-url", f"sqlite:///{base / 'user' / 'comfyui.db'}"],
        cwd=host.comfy_dir, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"},
    )
    server = Server(f"http://127.0.0.1:{port}", base, log_path, "")
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                pytest.fail(f"ComfyUI exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                server.get("/system_stats")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("ComfyUI did not answer /system_stats within 300 s")
                time.sleep(0.5)
        server.startup_log = log_path.read_text()
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def my_look(comfyui: Server) -> Path:
    """models/qagan/my_look.safetensors, the model the shipped workflows load, trained once."""
    path = comfyui.base / "models" / "qagan" / "my_look.safetensors"
    if not path.is_file():
        comfyui.run(api_workflow("train_unpaired"))
    return path
