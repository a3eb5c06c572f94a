"""Level 'execution': every API workflow runs to success in the real host with offline-sized
settings, under ComfyUI's default caching."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from host_client import Server, api_workflow, cached_nodes


def _text(entry: dict, node: str) -> str:
    return "\n".join(entry["outputs"][node]["text"])


def test_train_unpaired(comfyui: Server, my_look: Path) -> None:
    entry = comfyui.run(api_workflow("train_unpaired", model_name="unpaired_look"))
    models = comfyui.base / "models" / "qagan"
    assert (models / "unpaired_look.safetensors").is_file()
    assert (models / "unpaired_look.state.safetensors").is_file()
    assert entry["outputs"]["2"]["images"], "no training preview"
    assert entry["outputs"]["3"]["images"], "Plot Loss Graph drew nothing"


def test_a_one_step_training_draws_its_loss_graph(comfyui: Server) -> None:
    """ComfyUI's Plot Loss Graph divides by the loss range: one value would crash it."""
    entry = comfyui.run(api_workflow("train_unpaired", model_name="one_step_look", steps=1))
    assert entry["outputs"]["3"]["images"]


def test_enhance_folder(comfyui: Server, my_look: Path) -> None:
    entry = comfyui.run(api_workflow("enhance_folder"))
    written = sorted(p.name for p in (comfyui.base / "output" / "qagan_enhanced").iterdir())
    assert written == sorted(p.name for p in (comfyui.base / "input" / "qagan_low").iterdir())
    assert "3 of 3 image(s) enhanced" in _text(entry, "3")
    assert len(entry["outputs"]["4"]["images"]) == 3
    again = comfyui.run(api_workflow("enhance_folder"))  # the folder may have changed: it runs
    assert "1" in cached_nodes(again) and "2" not in cached_nodes(again)
    assert "3 already existed in the output folder and were skipped" in _text(again, "3")


def test_train_then_enhance_keeps_numbered_copies(comfyui: Server) -> None:
    prompt = api_workflow("train_then_enhance")
    first = comfyui.run(prompt)
    second = comfyui.run(prompt)  # training is never served from the cache: it trains again
    assert not {"1", "3", "6"} & cached_nodes(second)
    models = comfyui.base / "models" / "qagan"
    assert (models / "chained_look.safetensors").is_file()
    assert (models / "chained_look_run.safetensors").is_file()
    assert (models / "chained_look_run_00001.safetensors").is_file()
    assert first["outputs"]["4"]["images"] != second["outputs"]["4"]["images"]


def test_enhance_evaluate(comfyui: Server, my_look: Path) -> None:
    entry = comfyui.run(api_workflow("enhance_evaluate"))
    assert _text(entry, "7").startswith("PSNR ") and _text(entry, "8").startswith("PSNR ")
    assert entry["outputs"]["9"]["images"][0]["filename"].startswith("evaluated_")


def test_degrade_round_trip(comfyui: Server, my_look: Path) -> None:
    entry = comfyui.run(api_workflow("degrade_round_trip"))
    assert _text(entry, "7").startswith("PSNR ")
    assert entry["outputs"]["8"]["images"][0]["filename"].startswith("degraded_")


def test_identical_queue_is_served_from_cache_and_a_retrain_is_not(comfyui: Server, my_look: Path) -> None:
    models = comfyui.base / "models" / "qagan"
    comfyui.run(api_workflow("train_unpaired", model_name="cache_look", steps=2))
    prompt = api_workflow("enhance_evaluate")
    prompt["1"]["inputs"]["model_name"] = "cache_look.safetensors"
    before = comfyui.run(prompt)
    again = comfyui.run(prompt)
    assert cached_nodes(again) == set(prompt), "an identical queue ran nodes again"
    assert _text(again, "7") == _text(before, "7")

    # Retrained in ComfyUI (resumes: 2 more steps), then the same prompt: the new model.
    comfyui.run(api_workflow("train_unpaired", model_name="cache_look", steps=4))
    retrained = comfyui.run(prompt)
    assert not {"1", "4", "5", "7"} & cached_nodes(retrained)
    assert _text(retrained, "7") != _text(before, "7"), json.dumps(retrained["outputs"])

    # Replaced behind ComfyUI's back (another process trained it) with nothing else queued in
    # between: only what depends on the model runs again; the photos come from the cache.
    comfyui.run(prompt)
    shutil.copyfile(models / "my_look.safetensors", models / "cache_look.tmp")
    os.replace(models / "cache_look.tmp", models / "cache_look.safetensors")
    replaced = comfyui.run(prompt)
    assert cached_nodes(replaced) == {"2", "3", "6", "8"}, "the old model was served from the cache"
    assert _text(replaced, "7") != _text(retrained, "7")
