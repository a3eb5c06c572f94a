"""Level 'behaviour': Cancel during training saves and a re-queue resumes; errors reach /history
with the pack's message, and the server keeps serving."""

from __future__ import annotations

import time
from pathlib import Path

from host_client import Server, api_workflow, messages

from qagan_core import read_model_info


def _wait_for_log(comfyui: Server, text: str, after: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in comfyui.log.read_text()[after:]:
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in the ComfyUI log within {timeout} s")


def test_cancel_during_training_saves_and_a_requeue_resumes(comfyui: Server) -> None:
    models = comfyui.base / "models" / "qagan"
    start = len(comfyui.log.read_text())
    prompt_id = comfyui.queue(api_workflow("train_unpaired", model_name="cancel_look", steps=100_000))
    _wait_for_log(comfyui, "training on ", start)  # the settings line: the steps begin
    time.sleep(3)
    comfyui.post("/interrupt", {})
    entry = comfyui.wait(prompt_id)
    assert entry["status"]["status_str"] == "error" and messages(entry, "execution_interrupted")
    assert (models / "cancel_look.state.safetensors").is_file()
    done = read_model_info(models / "cancel_look.safetensors")["training"]["steps"]
    assert 0 < done < 100_000

    entry = comfyui.run(api_workflow("train_unpaired", model_name="cancel_look", steps=done + 2))
    assert read_model_info(models / "cancel_look.safetensors")["training"]["steps"] == done + 2


def _error(entry: dict) -> dict:
    assert entry["status"]["status_str"] == "error"
    [error] = messages(entry, "execution_error")
    return error


def test_errors_reach_history_and_the_server_keeps_serving(comfyui: Server, my_look: Path) -> None:
    broken = comfyui.wait(comfyui.queue(api_workflow("train_unpaired", model_name="broken_look",
                                                     low_quality_folder="qagan_broken")))
    error = _error(broken)
    assert error["node_type"] == "QAGANTrain"
    assert error["exception_message"].startswith("no readable images in folder ")
    assert "input/qagan_broken (2 file(s) skipped as unreadable)" in error["exception_message"]

    prompt = api_workflow("enhance_evaluate")
    prompt["1"]["inputs"]["model_name"] = "corrupt.safetensors"
    error = _error(comfyui.wait(comfyui.queue(prompt)))
    assert error["node_type"] == "QAGANLoadModel"
    assert error["exception_message"].startswith("cannot read ")
    assert "corrupt.safetensors: not a safetensors file" in error["exception_message"]

    assert comfyui.get("/system_stats")["system"]["comfyui_version"]
    comfyui.run(api_workflow("enhance_evaluate"))
