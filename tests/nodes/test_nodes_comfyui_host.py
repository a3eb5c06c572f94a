"""Optional: the pack inside a real ComfyUI, driven through its HTTP API.

Skipped unless QAGAN_COMFYUI_DIR points to a ComfyUI checkout. QAGAN_COMFYUI_PYTHON
names the Python with ComfyUI's requirements (default: this interpreter). ComfyUI
is started with --cpu on 127.0.0.1 and --base-directory in a temporary folder
whose custom_nodes/comfyui-qagan links to this repository; each API workflow is
queued through POST /prompt (with the same tiny overrides as the CI test) and
/history is polled until it finishes; then the files it wrote are checked.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import PACK_NAME, ROOT, load_pack, write_photos

COMFY_DIR = os.environ.get("QAGAN_COMFYUI_DIR")
pytestmark = pytest.mark.skipif(not COMFY_DIR, reason="set QAGAN_COMFYUI_DIR to a ComfyUI checkout")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def _post(url: str, data: dict) -> dict:
    req = urllib.request.Request(url, json.dumps(data).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _inputs(base: Path) -> None:
    load_pack()
    import torch

    core = sys.modules[f"{PACK_NAME}.qagan_core"]
    write_photos(base / "input" / "qagan_low", 3, size=(64, 80), seed=1)
    write_photos(base / "input" / "qagan_high", 3, size=(64, 80), seed=2)
    g = torch.Generator().manual_seed(3)
    core.save_image(torch.rand(3, 48, 64, generator=g), base / "input" / "qagan_example.png")
    core.save_image(torch.rand(3, 48, 64, generator=g), base / "input" / "qagan_reference.png")


@pytest.fixture(scope="module")
def comfyui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    base = tmp_path_factory.mktemp("comfy_base")
    (base / "custom_nodes").mkdir()
    (base / "custom_nodes" / "comfyui-qagan").symlink_to(ROOT, target_is_directory=True)
    _inputs(base)
    port = _free_port()
    log = open(base / "comfyui.log", "w")
    python = os.environ.get("QAGAN_COMFYUI_PYTHON", sys.executable)
    proc = subprocess.Popen(
        [python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port), "--disable-auto-launch",
         "--disable-api-nodes", "--cache-none", "--base-directory", str(base)],
        cwd=COMFY_DIR, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                pytest.fail(f"ComfyUI exited: {(base / 'comfyui.log').read_text()[-3000:]}")
            try:
                _get(f"{url}/system_stats")
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("ComfyUI did not start within 240 s")
        yield SimpleNamespace(url=url, base=base, log=base / "comfyui.log")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_pack_imports_cleanly(comfyui: SimpleNamespace) -> None:
    text = comfyui.log.read_text()
    assert "comfyui-qagan" in text  # listed under "Import times for custom nodes"
    lines = [line for line in text.splitlines() if "comfyui-qagan" in line or "qagan_core" in line]
    assert not [line for line in lines if "IMPORT FAILED" in line or "Warning" in line or "Error" in line]


def test_object_info_lists_every_node(comfyui: SimpleNamespace) -> None:
    pack = load_pack()
    info = _get(f"{comfyui.url}/object_info")
    for name, cls in pack.NODE_CLASS_MAPPINGS.items():
        assert name in info, f"{name} missing from /object_info"
        assert info[name]["category"] == "image/enhance/QAGAN"
        assert list(info[name]["input"]["required"]) == list(cls.INPUT_TYPES()["required"])
        assert info[name]["display_name"] == pack.NODE_DISPLAY_NAME_MAPPINGS[name]


def _queue(comfyui: SimpleNamespace, name: str, steps: int) -> dict:
    prompt = json.loads((ROOT / "workflows" / f"{name}.api.json").read_text())
    for node in prompt.values():
        if node["class_type"] == "QAGANTrain":
            node["inputs"].update(steps=steps, batch_size=1, crop_size=32, train_size=32, save_every=0,
                                  preview_every=1, encoder="random (for testing only - poor results)",
                                  minutes=0.0)
    reply = _post(f"{comfyui.url}/prompt", {"prompt": prompt, "client_id": "qagan-test"})
    assert not reply.get("node_errors"), reply
    prompt_id = reply["prompt_id"]
    for _ in range(600):
        history = _get(f"{comfyui.url}/history/{prompt_id}")
        if prompt_id in history and history[prompt_id]["status"].get("completed") is not None:
            entry = history[prompt_id]
            assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[-3000:]
            return entry
        time.sleep(1)
    pytest.fail(f"{name} did not finish within 600 s")


def test_workflows_run_through_the_queue(comfyui: SimpleNamespace) -> None:
    base = comfyui.base
    _queue(comfyui, "train_unpaired", steps=2)
    assert (base / "models" / "qagan" / "my_look.safetensors").is_file()
    assert (base / "models" / "qagan" / "my_look.state.safetensors").is_file()

    entry = _queue(comfyui, "enhance_folder", steps=1)
    assert sorted(p.name for p in (base / "output" / "qagan_enhanced").iterdir()) == [
        "photo_00.png", "photo_01.png", "photo_02.png"
    ]
    assert "3 of 3 image(s) enhanced" in json.dumps(entry["outputs"])

    _queue(comfyui, "train_then_enhance", steps=1)
    assert (base / "models" / "qagan" / "chained_look.safetensors").is_file()
    assert list((base / "output" / "qagan").glob("enhanced_*.png"))

    entry = _queue(comfyui, "enhance_evaluate", steps=1)
    assert list((base / "output" / "qagan").glob("evaluated_*.png"))
    assert "PSNR" in json.dumps(entry["outputs"])
