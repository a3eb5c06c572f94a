"""Memory of enhancing a photo file (issue 10 item 5): no float copy of the whole image.

A photo is read as uint8, converted to float a tile or strip at a time and
written from uint8, so enhancing it holds its uint8 buffers (input, result, the
decoder's and encoder's images) and bounded working memory, never a float32
copy of the whole image. A child process (a clean heap; glibc told to return
freed blocks of 1 MiB and more at once, so resident memory follows what is in
use) measures how far its peak resident memory rises during one
``enhance_files`` call in each mode (Linux: ``/proc/self/clear_refs`` resets
the peak), with the networks replaced by cheap pointwise stand-ins: their
working memory is bounded by the tile and working sizes, and the pipeline's own
full-size buffers are what is checked. ``benchmarks/memory.py`` measures the
real command on photos up to the pixel limit.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

WIDTH, HEIGHT = 1000, 6000  # 6 MP: a float32 copy is 69 MiB, the uint8 image 17 MiB
CLEAR_REFS = Path("/proc/self/clear_refs")
MODES = {"fast": {"mode": "fast", "working_size": 256}, "exact-tiled": {"mode": "exact", "tile": 512}}


def _status_bytes(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def _peak_growth(fn) -> int:
    """How far the process's peak resident memory rose above its memory at the start of ``fn()``."""
    gc.collect()
    CLEAR_REFS.write_text("5")  # the peak (VmHWM) restarts from the current RSS
    start = _status_bytes("VmRSS")
    fn()
    return _status_bytes("VmHWM") - start


def _measure(photo: Path, out_dir: Path) -> dict[str, int]:
    """In the child: the peak growth of enhancing ``photo`` in each of ``MODES``."""
    from qagan_core.encoder import resolve_encoder
    from qagan_core.inference.enhance import prepare_model
    from qagan_core.inference.folder import enhance_files
    from qagan_core.model import ModelConfig
    from qagan_core.model.qagan import QAGAN

    model = prepare_model(QAGAN(ModelConfig(global_curve=False), resolve_encoder("random")))
    model.global_transform = lambda x, feats=None: None  # type: ignore[method-assign]
    model.enhance_tensor = lambda x, transform=None: x * 0.9 + 0.05  # type: ignore[method-assign]
    growth = {}
    for name, options in MODES.items():
        jobs = [(photo, out_dir / f"{name}.jpg")]
        growth[name] = _peak_growth(lambda: enhance_files(jobs, model, options=options,  # noqa: B023
                                                          if_exists="overwrite"))
    return growth


@pytest.fixture(scope="module")
def growth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    folder = tmp_path_factory.mktemp("big")
    photo = folder / "photo.bmp"  # BMP: quick to read
    u = np.linspace(0, 255, WIDTH, dtype=np.float32)[None, :]
    v = np.linspace(0, 255, HEIGHT, dtype=np.float32)[:, None]
    rgb = np.stack([u + 0 * v, v + 0 * u, (u + v) / 2], axis=2).astype(np.uint8)  # smooth: a small JPEG
    Image.fromarray(rgb).save(photo)
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(2**20), "MALLOC_TRIM_THRESHOLD_": str(2**20)}
    done = subprocess.run([sys.executable, __file__, str(photo), str(folder)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.skipif(not CLEAR_REFS.exists(), reason="needs Linux's /proc/self/clear_refs")
@pytest.mark.parametrize("mode", list(MODES))
def test_enhancing_a_file_holds_no_float_copy_of_it(growth: dict[str, int], mode: str) -> None:
    float_copy = 4 * 3 * WIDTH * HEIGHT
    assert growth[mode] < float_copy, (
        f"{mode}: the peak grew {growth[mode] / 2**20:.0f} MiB, a float copy is "
        f"{float_copy / 2**20:.0f} MiB")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    print(json.dumps(_measure(Path(sys.argv[1]), Path(sys.argv[2]))))
