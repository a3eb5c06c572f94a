"""Each node function on ComfyUI-format tensors ``[B, H, W, C]`` (a fake ComfyUI: fake_comfy.py)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
import torch
from conftest import PACK_NAME
from fake_comfy import InterruptProcessingException


def core() -> ModuleType:
    return sys.modules[f"{PACK_NAME}.qagan_core"]


def node(pack: ModuleType, name: str):
    return pack.NODE_CLASS_MAPPINGS[name]()


def images(b: int, h: int, w: int, c: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, h, w, c, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------ Enhance
def test_enhance_batch_keeps_size_and_reports_progress(pack, comfyui, tiny_model) -> None:
    x = images(2, 20, 28)
    (y,) = node(pack, "QAGANEnhance").enhance(x, tiny_model, 1.0)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert 0 <= float(y.min()) and float(y.max()) <= 1
    assert not torch.allclose(y, x)
    assert comfyui.progress[-1][:2] == (2000, 2000)  # per image and inside it


def test_enhance_strength_zero_is_identity(pack, comfy_env, tiny_model) -> None:
    x = images(1, 16, 16)
    (y,) = node(pack, "QAGANEnhance").enhance(x, tiny_model, 0.0)
    assert torch.allclose(y, x, atol=1e-6)


def test_enhance_rgba_keeps_alpha(pack, comfy_env, tiny_model) -> None:
    x = images(1, 16, 20, 4)
    (y,) = node(pack, "QAGANEnhance").enhance(x, tiny_model, 1.0)
    assert y.shape == (1, 16, 20, 4)
    assert torch.equal(y[..., 3], x[..., 3])


def test_enhance_grayscale_becomes_rgb(pack, comfy_env, tiny_model) -> None:
    (y,) = node(pack, "QAGANEnhance").enhance(images(2, 16, 16, 1), tiny_model, 1.0)
    assert y.shape == (2, 16, 16, 3)


def test_enhance_empty_batch(pack, comfy_env, tiny_model) -> None:
    (y,) = node(pack, "QAGANEnhance").enhance(torch.zeros(0, 16, 24, 3), tiny_model, 1.0)
    assert y.shape == (0, 16, 24, 3)


def test_enhance_list_of_different_sizes(pack, comfy_env, tiny_model) -> None:
    (ys,) = node(pack, "QAGANEnhance").enhance([images(1, 16, 16), images(2, 24, 20)], tiny_model, 1.0)
    assert [tuple(y.shape) for y in ys] == [(1, 16, 16, 3), (2, 24, 20, 3)]


def test_enhance_honours_interruption(pack, comfyui, comfy_env, tiny_model) -> None:
    comfyui.press_cancel()
    with pytest.raises(InterruptProcessingException):
        node(pack, "QAGANEnhance").enhance(images(2, 16, 16), tiny_model, 1.0)
    assert not comfy_env.interrupted()  # the request is consumed, as ComfyUI does


def test_enhance_options(pack) -> None:
    common = sys.modules[f"{PACK_NAME}.nodes.common"]
    assert common.enhance_options("fast", 0) == {"mode": "fast"}
    assert common.enhance_options("auto", 512)["tile"] == 512


# ------------------------------------------------------------ Load / Save
def test_load_model_is_cached_by_path_and_mtime(pack, comfy_dirs, saved_model) -> None:
    loader = node(pack, "QAGANLoadModel")
    assert saved_model in loader.INPUT_TYPES()["required"]["model_name"][0]
    (a,) = loader.load(saved_model)
    (b,) = loader.load(saved_model)
    assert a is b


def test_model_list_leaves_out_encoder_weights_and_training_states(pack, comfy_dirs,
                                                                   saved_model) -> None:
    (comfy_dirs.models / "vgg19.safetensors").write_bytes(b"")
    (comfy_dirs.models / "look.state.safetensors").write_bytes(b"")
    names = node(pack, "QAGANLoadModel").INPUT_TYPES()["required"]["model_name"][0]
    assert names == [saved_model]
    resume = pack.NODE_CLASS_MAPPINGS["QAGANTrain"].INPUT_TYPES()["required"]["resume"][0]
    assert "look.state.safetensors" in resume
    train_spec = pack.NODE_CLASS_MAPPINGS["QAGANTrain"].INPUT_TYPES()["required"]
    assert "vgg19.safetensors" in train_spec["encoder"][0]


def test_load_corrupt_or_foreign_file_gives_clear_error(pack, comfy_dirs) -> None:
    from safetensors.torch import save_file

    (comfy_dirs.models / "broken.safetensors").write_bytes(b"\x00garbage")
    save_file({"w": torch.zeros(2)}, str(comfy_dirs.models / "sdxl_lora.safetensors"))
    loader = node(pack, "QAGANLoadModel")
    with pytest.raises(core().ModelFileError, match="not a safetensors file, or truncated"):
        loader.load("broken.safetensors")
    with pytest.raises(core().ModelFileError, match="is not a QAGAN model"):
        loader.load("sdxl_lora.safetensors")


def test_missing_encoder_weights_name_the_file(pack, comfy_dirs, tiny_model, monkeypatch) -> None:
    encoder_mod = sys.modules[f"{PACK_NAME}.qagan_core.encoder"]
    monkeypatch.setattr(encoder_mod, "_torchvision_state", lambda allow_download: None)
    identity = tiny_model.encoder.identity
    tiny_model.encoder.identity = encoder_mod.EncoderIdentity("pretrained", "vgg19-dcbb9e9d.pth", "abc")
    try:
        core().save_model(tiny_model, comfy_dirs.models / "needs_vgg.safetensors")
    finally:
        tiny_model.encoder.identity = identity
    with pytest.raises(core().EncoderWeightsError, match=r"vgg19-dcbb9e9d\.pth") as err:
        node(pack, "QAGANLoadModel").load("needs_vgg.safetensors")
    assert str(comfy_dirs.models) in str(err.value)


def test_save_model_never_overwrites_silently(pack, comfy_dirs, tiny_model) -> None:
    saver = node(pack, "QAGANSaveModel")
    assert saver.save(tiny_model, "look")["result"] == ("look.safetensors",)
    out = saver.save(tiny_model, "look.safetensors", "add number")
    assert out["result"] == ("look_00001.safetensors",)
    with pytest.raises(core().ModelFileError, match="already exists"):
        saver.save(tiny_model, "look", "error")
    assert saver.save(tiny_model, "look", "overwrite")["result"] == ("look.safetensors",)
    with pytest.raises(core().QAGANError, match="invalid model name"):
        saver.save(tiny_model, "../escape")
    (loaded,) = node(pack, "QAGANLoadModel").load("look_00001.safetensors")
    assert loaded.config == tiny_model.config


# ------------------------------------------------------------------ Degrade
def test_degrade_shapes_and_reference_batches(pack, comfy_env, tiny_model) -> None:
    degrade = node(pack, "QAGANDegrade")
    (y,) = degrade.degrade(images(2, 16, 20), images(1, 24, 24, seed=1), tiny_model)
    assert y.shape == (2, 16, 20, 3)
    (y,) = degrade.degrade(images(2, 16, 20), images(2, 16, 16, seed=1), tiny_model)
    assert y.shape == (2, 16, 20, 3)
    with pytest.raises(core().QAGANError, match="reference batch"):
        degrade.degrade(images(3, 16, 16), images(2, 16, 16), tiny_model)
    (y,) = degrade.degrade(torch.zeros(0, 16, 16, 3), images(1, 16, 16), tiny_model)
    assert y.shape == (0, 16, 16, 3)


# ----------------------------------------------------------------- Evaluate
def test_evaluate(pack) -> None:
    ev = node(pack, "QAGANEvaluate")
    x = images(2, 16, 16)
    p, s, text = ev.evaluate(x, x)
    assert p == pytest.approx(200.0) and s == pytest.approx(1.0)
    assert "mean of 2 images" in text and "image 2" in text
    p, s, text = ev.evaluate(x, x[:1])  # reference batch of 1 is compared with every image
    assert 0 < p < 200 and text.startswith("PSNR ")
    p4, _, _ = ev.evaluate(torch.cat([x, torch.ones(2, 16, 16, 1)], -1), x)  # alpha ignored
    assert p4 == pytest.approx(200.0)
    with pytest.raises(core().QAGANError, match="same size"):
        ev.evaluate(images(1, 16, 16), images(1, 16, 20))
    with pytest.raises(core().QAGANError, match="empty"):
        ev.evaluate(torch.zeros(0, 16, 16, 3), x)


# ------------------------------------------------------------ Enhance Folder
def test_enhance_folder(pack, comfy_dirs: SimpleNamespace, tiny_model) -> None:
    (comfy_dirs.input / "qagan_low" / "notes.jpg").write_bytes(b"not an image")
    folder = node(pack, "QAGANEnhanceFolder")
    summary, previews = folder.enhance_folder(tiny_model, "qagan_low", "batch/out", preview_count=2)
    out = comfy_dirs.output / "batch" / "out"
    assert sorted(p.name for p in out.iterdir()) == ["photo_00.png", "photo_01.png", "photo_02.png"]
    assert "3 of 4 image(s) enhanced" in summary and "notes.jpg" in summary
    assert [tuple(p.shape) for p in previews] == [(1, 40, 48, 3)] * 2
    first = previews
    summary, previews = folder.enhance_folder(tiny_model, "qagan_low", "batch/out", preview_count=2)
    assert "3 already existed" in summary  # nothing new: the previews show what is there
    assert len(previews) == 2 and all(torch.allclose(a, b, atol=1 / 255)
                                      for a, b in zip(previews, first, strict=True))


@pytest.mark.parametrize("bad", ["../", "..", "/etc", "qagan_low/../../x"])
def test_folders_outside_comfyui_dirs_are_refused(pack, comfy_dirs, tiny_model, bad: str) -> None:
    folder = node(pack, "QAGANEnhanceFolder")
    with pytest.raises(core().DataError):
        folder.enhance_folder(tiny_model, bad, "out")
    with pytest.raises(core().DataError):
        folder.enhance_folder(tiny_model, "qagan_low", bad if bad != "qagan_low/../../x" else "../x")
    with pytest.raises(core().DataError):
        node(pack, "QAGANTrain").train(bad, "qagan_high", "x")


def test_input_subfolders_are_the_photo_folders(pack, comfy_dirs) -> None:
    import shutil

    nested = comfy_dirs.input / "qagan_low" / "nested"
    nested.mkdir()
    shutil.copy(next((comfy_dirs.input / "qagan_low").glob("*.png")), nested / "one.png")
    (comfy_dirs.input / "3d" / "meshes").mkdir(parents=True)  # ComfyUI's own, no photos
    (comfy_dirs.input / "3d" / "meshes" / "cube.glb").write_bytes(b"glTF")
    common = sys.modules[f"{PACK_NAME}.nodes.common"]
    assert common.input_subfolders() == ["qagan_high", "qagan_low", "qagan_low/nested"]


# -------------------------------------------------------------------- Train
def test_train_cancel_saves_state_and_requeue_resumes(
        pack, comfyui, comfy_env, comfy_dirs, monkeypatch) -> None:
    """Cancel after step 1 saves the state; queueing again continues at step 2.

    Runs under torch.inference_mode(), as ComfyUI runs nodes.
    """
    common = sys.modules[f"{PACK_NAME}.nodes.common"]
    settings = dict(batch_size=1, crop_size=32, train_size=32, save_every=0, preview_every=1,
                    encoder=common.ENCODER_RANDOM)
    train = node(pack, "QAGANTrain")
    # Press Cancel once the bar has shown step 1's preview.
    def cancelled() -> bool:
        return any(p[2] is not None for p in comfyui.progress)

    monkeypatch.setattr(comfy_env, "interrupted", cancelled)
    with torch.inference_mode(), pytest.raises(InterruptProcessingException):
        train.train("qagan_low", "qagan_high", "resumable", steps=2, unique_id="7", **settings)
    node_id, text = comfyui.texts[-1]
    assert node_id == "7" and re.fullmatch(
        r"cancelled at step 1 after [\d a-z]+; saved resumable.safetensors and its training state: "
        r"queue again with resume 'auto' to continue", text), text
    state = comfy_dirs.models / "resumable.state.safetensors"
    assert state.is_file() and (comfy_dirs.models / "resumable.safetensors").is_file()
    assert core().read_model_info(state)["training"]["steps"] == 1
    previews = [p[2] for p in comfyui.progress if p[2] is not None]
    assert previews and previews[0][0] == "JPEG" and previews[0][2] == 512

    monkeypatch.undo()
    with torch.inference_mode():
        model, curve, loss = train.train("qagan_low", "qagan_high", "resumable", steps=2, unique_id="7",
                                         **settings)
    texts = [text for node_id, text in comfyui.texts if node_id == "7"]
    assert re.fullmatch(r"step 2/2 · \d+\.\d\d s/step · about 0 s left", texts[-2]), texts
    assert re.fullmatch(r"done: step 2 in [\d a-z]+; saved models/qagan/resumable.safetensors", texts[-1])
    assert model.info["training"]["steps"] == 2
    assert len(loss["loss"]) == 2 and all(isinstance(v, float) for v in loss["loss"])
    assert curve.shape == (1, 360, 640, 3)
    assert core().read_model_info(state)["training"]["steps"] == 2
    (y,) = node(pack, "QAGANEnhance").enhance(images(1, 16, 16), model, 1.0)
    assert y.shape == (1, 16, 16, 3)


def test_train_invalid_name(pack, comfy_dirs) -> None:
    with pytest.raises(core().QAGANError, match="invalid model name"):
        node(pack, "QAGANTrain").train("qagan_low", "qagan_high", "a/b")


def test_paths_are_not_hardcoded() -> None:
    from conftest import ROOT

    checkout_parent = str(ROOT.resolve().parent) + "/"
    for path in [*(ROOT / "nodes").glob("*.py"), ROOT / "__init__.py"]:
        text = Path(path).read_text()
        assert checkout_parent not in text and "/" + "tmp/" not in text


def test_train_minutes_and_paper_preset(pack, comfy_env, comfy_dirs, monkeypatch) -> None:
    """minutes > 0 trains for the time (CPU: the budget's batch and sizes); preset paper turns
    the additions off; preset fixes trains the head on quantile pairs with generic defects."""
    common = sys.modules[f"{PACK_NAME}.nodes.common"]
    trainer_module = sys.modules[f"{PACK_NAME}.qagan_core.training.trainer"]

    class Clock:  # every reading 20 s later: a step "takes" 20 s
        now = 0.0

        def monotonic(self) -> float:
            self.now += 20.0
            return self.now

    monkeypatch.setattr(trainer_module, "time", Clock())
    train_node = sys.modules[f"{PACK_NAME}.nodes.train_node"]
    asked = []
    monkeypatch.setattr(train_node, "budget_sizes", lambda device_type: asked.append(device_type) or {
        "batch_size": 2, "crop_size": 32, "train_size": 16})  # small stand-in for the CPU sizes
    train = node(pack, "QAGANTrain")
    with torch.inference_mode():
        model, _, loss = train.train("qagan_low", "qagan_high", "budget", steps=1000, batch_size=1,
                                     crop_size=32, train_size=32, save_every=0, preview_every=0,
                                     encoder=common.ENCODER_RANDOM, minutes=1.0)
    training = model.info["training"]
    assert training["minutes"] == 1.0 and training["steps"] == 3 and len(loss["loss"]) == 3
    assert asked == ["cpu"] and (training["batch_size"], training["train_size"]) == (2, 16)
    assert model.g_h.curve is not None and training["color_steps"] > 0
    with torch.inference_mode():
        model, _, loss = train.train("qagan_low", "qagan_high", "paper", steps=1, batch_size=1,
                                  crop_size=32, train_size=32, save_every=0, preview_every=0,
                                  encoder=common.ENCODER_RANDOM, preset="paper")
    assert model.g_h.curve is None and model.info["training"]["lambda_idt"] == 0
    with torch.inference_mode():
        fixes, _, _ = train.train("qagan_low", "qagan_high", "fixes", steps=1, batch_size=1,
                                  crop_size=32, train_size=32, save_every=0, preview_every=0,
                                  encoder=common.ENCODER_RANDOM, preset="fixes")
    training = fixes.info["training"]
    assert (training["head_objective"], training["head_generic_defects"]) == ("quantile_pairs", 0.5)
    assert fixes.g_h.curve.use_pixel_stats
    # one step: its value twice, apart by a millionth, so ComfyUI's Plot Loss Graph can scale it
    assert len(loss["loss"]) == 2 and max(loss["loss"]) > min(loss["loss"])


def test_resume_with_another_encoder_is_refused_naming_both(pack, comfy_env, comfy_dirs) -> None:
    common = sys.modules[f"{PACK_NAME}.nodes.common"]
    settings = dict(steps=1, batch_size=1, crop_size=32, train_size=32, save_every=0, preview_every=0)
    train = node(pack, "QAGANTrain")
    with torch.inference_mode():
        train.train("qagan_low", "qagan_high", "enc", encoder=common.ENCODER_RANDOM, **settings)
        with pytest.raises(core().QAGANError, match=r"trained with the random encoder.*encoder input says"):
            train.train("qagan_low", "qagan_high", "enc", encoder=common.ENCODER_PRETRAINED, **settings)


def test_load_model_is_changed_follows_the_file(pack, comfy_dirs, saved_model, tiny_model) -> None:
    """After a retrain rewrites the file, ComfyUI's cache must not serve the old model."""
    loader = pack.NODE_CLASS_MAPPINGS["QAGANLoadModel"]
    before = loader.IS_CHANGED(saved_model)
    assert loader.IS_CHANGED(saved_model) == before  # unchanged file: cached
    core().save_model(tiny_model, comfy_dirs.models / saved_model, overwrite=True)  # a retrain
    assert loader.IS_CHANGED(saved_model) != before


def test_train_without_encoder_weights_names_the_random_choice(pack, comfy_dirs, monkeypatch) -> None:
    common = sys.modules[f"{PACK_NAME}.nodes.common"]
    encoder_module = sys.modules[f"{PACK_NAME}.qagan_core.encoder"]
    monkeypatch.setattr(encoder_module, "_torchvision_state", lambda allow_download: None)
    with torch.inference_mode(), pytest.raises(core().EncoderWeightsMissing) as info:
        node(pack, "QAGANTrain").train("qagan_low", "qagan_high", "x", steps=1,
                                       encoder=common.ENCODER_PRETRAINED)
    assert "models" in str(info.value) and common.ENCODER_RANDOM in str(info.value)
    assert "--encoder" not in str(info.value)


def test_start_over_keeps_the_model_it_replaces(pack, comfy_env, comfy_dirs) -> None:
    """Queueing a "start over" prompt again must not destroy the last training."""
    common = sys.modules[f"{PACK_NAME}.nodes.common"]
    train_node = sys.modules[f"{PACK_NAME}.nodes.train_node"]
    settings = dict(batch_size=1, crop_size=32, train_size=32, save_every=0, preview_every=0,
                    encoder=common.ENCODER_RANDOM, resume=train_node.RESUME_NONE)
    train = node(pack, "QAGANTrain")
    with torch.inference_mode():
        train.train("qagan_low", "qagan_high", "again", steps=2, **settings)
        train.train("qagan_low", "qagan_high", "again", steps=1, **settings)
    models = comfy_dirs.models
    assert core().read_model_info(models / "again.safetensors")["training"]["steps"] == 1
    assert core().read_model_info(models / "again.previous.safetensors")["training"]["steps"] == 2
    assert (models / "again.previous.state.safetensors").is_file()
