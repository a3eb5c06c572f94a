"""Model files: wrong, damaged or foreign files give clear errors; writes are atomic."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from qagan_core import QAGAN, EncoderWeightsError, ModelConfig, ModelFileError, load_model, save_model
from qagan_core.checkpoints import read_model_info
from qagan_core.training import Trainer


@pytest.fixture()
def model_file(random_encoder, tmp_path: Path) -> Path:
    model = QAGAN(ModelConfig(global_size=32), random_encoder, {"training": {"steps": 0}})
    return save_model(model, tmp_path / "m.safetensors")


def test_round_trip(model_file: Path, random_encoder) -> None:
    model = load_model(model_file, encoder=random_encoder)
    assert model.config == ModelConfig(global_size=32)
    assert model.info["training"] == {"steps": 0}


def test_never_overwrites_silently(model_file: Path, random_encoder) -> None:
    model = load_model(model_file, encoder=random_encoder)
    with pytest.raises(ModelFileError, match="not overwriting"):
        save_model(model, model_file)


def test_truncated_file(model_file: Path) -> None:
    data = model_file.read_bytes()
    model_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"truncated|corrupt"):
        load_model(model_file)


def test_not_safetensors_at_all(tmp_path: Path) -> None:
    (tmp_path / "x.safetensors").write_text("hello")
    with pytest.raises(ModelFileError, match="not a safetensors file"):
        load_model(tmp_path / "x.safetensors")


def test_foreign_safetensors(tmp_path: Path) -> None:
    save_file({"model.diffusion.weight": torch.zeros(2, 2)}, str(tmp_path / "sd.safetensors"))
    with pytest.raises(ModelFileError, match="not a QAGAN model"):
        load_model(tmp_path / "sd.safetensors")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "nope.safetensors")


def test_other_architecture(random_encoder, tmp_path: Path) -> None:
    model = QAGAN(ModelConfig(global_curve=False), random_encoder)
    path = save_model(model, tmp_path / "a.safetensors")
    # pretend the file says global_curve=True: weights no longer match
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    meta["config"] = meta["config"].replace('"global_curve": false', '"global_curve": true')
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(ModelFileError, match="another architecture"):
        load_model(path, encoder=random_encoder)
    meta["config"] = meta["config"].replace("{", '{"attention_heads": 4, ', 1)
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(ModelFileError, match="architecture this version does not know"):
        load_model(path, encoder=random_encoder)


def test_model_file_is_not_a_training_state(model_file: Path, folders, random_encoder) -> None:
    with pytest.raises(ModelFileError, match="enhancement model, not a training state"):
        Trainer.resume(model_file, encoder=random_encoder)


def test_encoder_fingerprint_mismatch(model_file: Path, tmp_path: Path) -> None:
    from qagan_core.encoder import resolve_encoder

    other = resolve_encoder("random")
    with torch.no_grad():
        other.features[0].weight.add_(1.0)
    save_file({f"features.{k}": v.contiguous() for k, v in other.features.state_dict().items()},
              str(tmp_path / "vgg19.safetensors"))
    with pytest.raises(EncoderWeightsError, match="not the ones this model was trained with"):
        load_model(model_file, encoder_weights=str(tmp_path / "vgg19.safetensors"))


def test_interrupted_save_keeps_the_old_file(model_file: Path, random_encoder, monkeypatch) -> None:
    before = model_file.read_bytes()
    model = load_model(model_file, encoder=random_encoder)
    import qagan_core.images as images

    def failing_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(images.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        save_model(model, model_file, overwrite=True)
    assert model_file.read_bytes() == before
    assert [p.name for p in model_file.parent.iterdir()] == [model_file.name]
    assert read_model_info(model_file)["format"] == "qagan-model"


def _tampered(path: Path, change) -> Path:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        meta = dict(fh.metadata())
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    change(tensors, meta)
    save_file(tensors, str(path), metadata=meta)
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t, m: t.__setitem__("g_h.dec1.0.1.weight", t["g_h.dec1.0.1.weight"] * float("nan")),
         "holds NaN or inf"),
        (lambda t, m: t.__setitem__("g_h.dec1.0.1.weight", t["g_h.dec1.0.1.weight"].to(torch.int8)),
         "is torch.int8, expected torch.float32"),
        (lambda t, m: m.__setitem__("config", m["config"].replace('"curve_knots": 16',
                                                                  '"curve_knots": "lots"')),
         "option 'curve_knots' is 'lots', expected int"),
    ],
)
def test_damaged_weights_and_metadata_are_refused(model_file: Path, random_encoder, change,
                                                  message: str) -> None:
    _tampered(model_file, change)
    with pytest.raises(ModelFileError, match=message):
        load_model(model_file, encoder=random_encoder)


def test_leftovers_of_a_killed_save_are_removed_by_the_next(random_encoder, tmp_path: Path) -> None:
    """kill -9 during a save leaves a hidden temporary file; the next save of that file removes
    it, but not the temporary file of a save still in progress (locked by its writer)."""
    import fcntl
    import os

    path = tmp_path / "m.safetensors"
    dead = tmp_path / ".m.safetensors.abc123.tmp"
    dead.write_bytes(b"x" * 100)
    live = tmp_path / ".m.safetensors.def456.tmp"
    live.write_bytes(b"y")
    fd = os.open(live, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        save_model(QAGAN(ModelConfig(global_size=32), random_encoder), path)
        assert not dead.exists() and live.exists() and path.is_file()
    finally:
        os.close(fd)
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == [live.name]
