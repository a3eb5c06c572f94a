"""Encoder weights: explicit files, a models folder, the clear error when none is found."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from qagan_core import EncoderWeightsError, resolve_encoder
from qagan_core.encoder import TORCHVISION_FILE


def _torchvision_layout(encoder) -> dict[str, torch.Tensor]:
    state = {f"features.{k}": v.contiguous().clone() for k, v in encoder.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)  # the rest of VGG-19 is ignored
    return state


def test_random_encoder_is_reproducible(random_encoder) -> None:
    again = resolve_encoder("random")
    assert again.identity.fingerprint == random_encoder.identity.fingerprint
    assert again.identity.is_random


def test_pth_and_safetensors_files(random_encoder, tmp_path: Path) -> None:
    state = _torchvision_layout(random_encoder)
    torch.save(state, tmp_path / "w.pth")
    save_file(state, str(tmp_path / "w.safetensors"))
    for name in ("w.pth", "w.safetensors"):
        enc = resolve_encoder(tmp_path / name)
        assert enc.identity.kind == "file"
        assert enc.identity.fingerprint == random_encoder.identity.fingerprint


def test_models_folder_is_searched(random_encoder, tmp_path: Path) -> None:
    torch.save(_torchvision_layout(random_encoder), tmp_path / TORCHVISION_FILE)
    enc = resolve_encoder("pretrained", models_dir=tmp_path, allow_download=False)
    assert enc.identity.kind == "pretrained" and enc.identity.source == TORCHVISION_FILE


def test_missing_weights_say_where_to_put_them(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    with pytest.raises(EncoderWeightsError, match=f"{TORCHVISION_FILE}.*{tmp_path.name}"):
        resolve_encoder("pretrained", models_dir=tmp_path, allow_download=False)


def test_wrong_weights_file(tmp_path: Path) -> None:
    save_file({"features.0.weight": torch.zeros(3, 3)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(EncoderWeightsError, match="not a VGG-19 state dict"):
        resolve_encoder(tmp_path / "bad.safetensors")
    (tmp_path / "junk.pth").write_bytes(b"\x80\x04junk")
    with pytest.raises(EncoderWeightsError, match="cannot read encoder weights"):
        resolve_encoder(tmp_path / "junk.pth")
    with pytest.raises(EncoderWeightsError, match="not found"):
        resolve_encoder(tmp_path / "absent.pth")
