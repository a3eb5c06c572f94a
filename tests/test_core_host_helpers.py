"""qagan_core helpers used by hosts such as the ComfyUI nodes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from qagan_core import (
    QAGAN,
    Cancelled,
    ModelCache,
    ModelConfig,
    enhance_folder,
    find_resume_state,
    list_encoder_files,
    loss_curve_image,
    save_image,
    save_model,
    state_path_for,
)


@pytest.fixture(scope="module")
def tiny_model(random_encoder) -> QAGAN:
    torch.manual_seed(0)
    return QAGAN(ModelConfig(), random_encoder).eval()


def test_state_path_for() -> None:
    assert state_path_for("m/look.safetensors") == Path("m/look.state.safetensors")
    assert state_path_for("m/look.state.safetensors") == Path("m/look.state.safetensors")
    assert state_path_for("look") == Path("look.state.safetensors")


def test_find_resume_state(tmp_path: Path) -> None:
    model = tmp_path / "a.safetensors"
    assert find_resume_state(model) is None
    (tmp_path / "a.state.safetensors").write_bytes(b"x")
    assert find_resume_state(model) == tmp_path / "a.state.safetensors"


def test_model_cache_reuses_until_file_changes(tmp_path: Path, tiny_model: QAGAN) -> None:
    path = save_model(tiny_model, tmp_path / "m.safetensors")
    cache = ModelCache()
    first = cache.load(path)
    assert cache.load(path) is first
    save_model(tiny_model, path, overwrite=True)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    second = cache.load(path)
    assert second is not first
    assert len(cache) == 1


def test_list_encoder_files(tmp_path: Path) -> None:
    for name in ("vgg19-dcbb9e9d.pth", "VGG19.safetensors", "look.safetensors", "vgg.txt"):
        (tmp_path / name).write_bytes(b"")
    assert list_encoder_files(tmp_path) == ["VGG19.safetensors", "vgg19-dcbb9e9d.pth"]
    assert list_encoder_files(tmp_path / "missing") == []


def _photos(folder: Path) -> None:
    g = torch.Generator().manual_seed(1)
    save_image(torch.rand(3, 24, 32, generator=g), folder / "a.png")
    save_image(torch.rand(3, 32, 20, generator=g), folder / "sub" / "b.jpg")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")


def test_enhance_folder_writes_same_names_and_skips_broken(tmp_path: Path, tiny_model: QAGAN) -> None:
    src, dst = tmp_path / "in", tmp_path / "out"
    _photos(src)
    seen: list[int] = []
    report = enhance_folder(src, dst, tiny_model, preview_count=1, on_progress=lambda d, t, p: seen.append(d))
    assert seen == [1, 2, 3]
    assert sorted(p.relative_to(dst).as_posix() for p in report.written) == ["a.png", "sub/b.jpg"]
    assert [p.name for p, _ in report.failed] == ["broken.jpg"]
    assert len(report.previews) == 1 and report.previews[0].shape == (3, 24, 32)
    assert "2 of 3 image(s) enhanced" in report.summary()
    assert "broken.jpg" in report.summary()
    again = enhance_folder(src, dst, tiny_model)
    assert not again.written and len(again.existing) == 2


def test_enhance_folder_cancel(tmp_path: Path, tiny_model: QAGAN) -> None:
    src = tmp_path / "in"
    _photos(src)
    with pytest.raises(Cancelled, match="after 0 of 3"):
        enhance_folder(src, tmp_path / "out", tiny_model, should_stop=lambda: True)


def test_loss_curve_image() -> None:
    history = [{"step": i + 1, "loss_g": 3.0 - i, "loss_d_h": 1.0, "loss_d_l": 1.0, "cycle": 0.5}
               for i in range(3)]
    img = loss_curve_image(history, 200, 100)
    assert img.shape == (3, 100, 200) and 0 <= float(img.min()) and float(img.max()) <= 1
    assert float(img.std()) > 0
    assert loss_curve_image([], 64, 48).shape == (3, 48, 64)
    assert loss_curve_image(history[:1]).shape == (3, 360, 640)
