"""Level 'validation': the shipped API workflows pass /prompt validation as they are; wrong ones
are rejected with the message a user sees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from host_client import ROOT, Server, api_workflow

API_FILES = sorted((ROOT / "workflows" / "api").glob("*.api.json"))


def test_shipped_workflows_pass_validation_unchanged(comfyui: Server, my_look: Path) -> None:
    """Queued behind a running training, then taken off the queue: validated, never run."""
    blocker = comfyui.queue(api_workflow("train_unpaired", model_name="validation_blocker", steps=1_000_000))
    comfyui.wait_running(blocker)
    queued = []
    try:
        for path in API_FILES:
            status, reply = comfyui.post("/prompt", {"prompt": json.loads(path.read_text())})
            assert status == 200 and reply["node_errors"] == {}, f"{path.name}: {reply}"
            queued.append(reply["prompt_id"])
    finally:
        comfyui.post("/queue", {"delete": queued})
        comfyui.post("/interrupt", {})
    assert comfyui.wait(blocker)["status"]["status_str"] == "error"
    for prompt_id in queued:
        assert comfyui.get(f"/history/{prompt_id}") == {}, "a shipped workflow ran"


def _rejection(comfyui: Server, prompt: dict) -> dict:
    status, reply = comfyui.post("/prompt", {"prompt": prompt})
    assert status == 400 and reply["error"]["type"] == "prompt_outputs_failed_validation", reply
    return reply["node_errors"]


@pytest.mark.parametrize(
    ("workflow", "node", "name", "value", "message", "details"),
    [
        ("train_unpaired", "1", "steps", -5, "Value -5 smaller than min of 0", "steps"),
        ("train_unpaired", "1", "batch_size", 1000, "Value 1000 bigger than max of 256", "batch_size"),
        ("enhance_folder", "2", "mode", "sharp", "Value not in list", "mode: 'sharp' not in"),
        ("enhance_folder", "1", "model_name", "nope.safetensors", "Value not in list",
         "model_name: 'nope.safetensors' not in"),
        ("train_unpaired", "1", "low_quality_folder", "qagan_empty", "Value not in list",
         "low_quality_folder: 'qagan_empty' not in"),
    ],
)
def test_a_wrong_value_is_rejected(comfyui: Server, my_look: Path, workflow: str, node: str, name: str,
                                   value: object, message: str, details: str) -> None:
    (comfyui.base / "input" / "qagan_empty").mkdir(exist_ok=True)  # a folder without photos
    prompt = api_workflow(workflow)
    prompt[node]["inputs"][name] = value
    errors = _rejection(comfyui, prompt)
    assert list(errors) == [node]
    [error] = errors[node]["errors"]
    assert error["message"] == message and error["details"].startswith(details), error


def test_a_missing_input_is_rejected(comfyui: Server, my_look: Path) -> None:
    prompt = api_workflow("enhance_folder")
    del prompt["2"]["inputs"]["model"]
    errors = _rejection(comfyui, prompt)
    [error] = errors["2"]["errors"]
    assert (error["message"], error["details"]) == ("Required input is missing", "model")
