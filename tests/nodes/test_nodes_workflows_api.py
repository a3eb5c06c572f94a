"""Every API workflow in workflows/ runs through the real node classes (no ComfyUI needed).

Widget values are overridden with tiny settings so CI stays fast: QAGAN Train
runs 1 step (2 where ComfyUI's Plot Loss Graph follows: it needs two values) at
32x32, batch 1, with the random encoder (the pretrained VGG-19 cannot be
downloaded in CI). Everything else runs with the workflow's values.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from conftest import PACK_NAME, ROOT
from qagan_workflow_runner import CORE_STANDINS, WorkflowRunner, load_api_workflow, setup_standins

WORKFLOWS = ROOT / "workflows"
API_FILES = sorted((WORKFLOWS / "api").glob("*.api.json"))


def tiny_overrides(steps: int = 1) -> dict[str, dict]:
    common = sys.modules[f"{PACK_NAME}.nodes.common"]
    return {
        "QAGANTrain": {
            "steps": steps, "batch_size": 1, "crop_size": 32, "train_size": 32,
            "save_every": 0, "preview_every": 1, "encoder": common.ENCODER_RANDOM, "minutes": 0.0,
        }
    }


def run_workflow(name: str, pack: ModuleType, dirs: SimpleNamespace) -> WorkflowRunner:
    core = sys.modules[f"{PACK_NAME}.qagan_core"]
    setup_standins(dirs.input, dirs.output, core.load_image, core.save_image)
    steps = 2 if name == "train_unpaired" else 1
    prompt = load_api_workflow(WORKFLOWS / "api" / f"{name}.api.json", tiny_overrides(steps))
    return WorkflowRunner(prompt, {**CORE_STANDINS, **pack.NODE_CLASS_MAPPINGS}).run()


def test_the_four_workflows_exist() -> None:
    names = {p.name.removesuffix(".api.json") for p in API_FILES}
    assert {"train_unpaired", "enhance_folder", "train_then_enhance", "enhance_evaluate",
            "degrade_round_trip"} <= names


def test_train_unpaired(pack: ModuleType, comfy_dirs: SimpleNamespace) -> None:
    run = run_workflow("train_unpaired", pack, comfy_dirs)
    assert (comfy_dirs.models / "my_look.safetensors").is_file()
    assert (comfy_dirs.models / "my_look.state.safetensors").is_file()
    assert run.ui["2"][0]["images"] == [(1, 360, 640, 3)]
    assert len(run.ui["3"][0]["loss"]) == 2
    model = run.outputs["1"][0][0]
    assert model.info["training"]["steps"] == 2


def test_enhance_folder(pack: ModuleType, comfy_dirs: SimpleNamespace, saved_model: str) -> None:
    run = run_workflow("enhance_folder", pack, comfy_dirs)
    written = sorted(p.name for p in (comfy_dirs.output / "qagan_enhanced").iterdir())
    assert written == ["photo_00.png", "photo_01.png", "photo_02.png"]
    assert "3 of 3 image(s) enhanced" in run.ui["3"][0]["text"][0]
    assert [ui["images"] for ui in run.ui["4"]] == [[(1, 40, 48, 3)]] * 3


def test_train_then_enhance(pack: ModuleType, comfy_dirs: SimpleNamespace) -> None:
    run = run_workflow("train_then_enhance", pack, comfy_dirs)
    assert (comfy_dirs.models / "chained_look.safetensors").is_file()
    enhanced = run.outputs["3"][0][0]
    assert tuple(enhanced.shape) == (1, 32, 40, 3)
    assert (comfy_dirs.output / "qagan" / "enhanced_00000_.png").is_file()
    assert list(run.outputs["6"][0]) == ["chained_look_run.safetensors"]
    run_workflow("train_then_enhance", pack, comfy_dirs)  # a second run keeps the first copy
    assert (comfy_dirs.models / "chained_look_run_00001.safetensors").is_file()


def test_enhance_evaluate(pack: ModuleType, comfy_dirs: SimpleNamespace, saved_model: str) -> None:
    run = run_workflow("enhance_evaluate", pack, comfy_dirs)
    enhanced_psnr, enhanced_ssim = run.outputs["5"][0][0], run.outputs["5"][1][0]
    assert 0 < enhanced_psnr < 200 and -1 <= enhanced_ssim <= 1
    assert run.ui["7"][0]["text"][0].startswith("PSNR ")
    assert run.ui["8"][0]["text"][0].startswith("PSNR ")
    assert (comfy_dirs.output / "qagan" / "evaluated_00000_.png").is_file()


def test_degrade_round_trip(pack: ModuleType, comfy_dirs: SimpleNamespace, saved_model: str) -> None:
    run = run_workflow("degrade_round_trip", pack, comfy_dirs)
    degraded = run.outputs["4"][0][0]
    assert tuple(degraded.shape) == (1, 32, 40, 3)
    assert run.ui["7"][0]["text"][0].startswith("PSNR ")
    assert (comfy_dirs.output / "qagan" / "degraded_00000_.png").is_file()


@pytest.mark.parametrize("path", API_FILES, ids=lambda p: p.name)
def test_api_workflow_validates_with_its_own_values(
    path: Path, pack: ModuleType, comfy_dirs: SimpleNamespace, saved_model: str
) -> None:
    """Without overrides, every widget value is valid for the nodes as they are now."""
    core = sys.modules[f"{PACK_NAME}.qagan_core"]
    setup_standins(comfy_dirs.input, comfy_dirs.output, core.load_image, core.save_image)
    WorkflowRunner(load_api_workflow(path), {**CORE_STANDINS, **pack.NODE_CLASS_MAPPINGS}).validate()
