"""Full-resolution enhancement: exact tiling, fast mode, memory-based tiles, OOM retry (issue 4)."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from helpers import perturbed_model

from qagan_core.errors import QAGANError
from qagan_core.inference import degrade, enhance
from qagan_core.inference import fast as fast_module
from qagan_core.inference.enhance import (
    DEFAULT_OVERLAP,
    autocast_dtype,
    resolve_mode,
    run_network,
)
from qagan_core.inference.fast import apply_local_affine, fit_local_affine
from qagan_core.inference.memory import (
    MAX_TILE,
    MIN_TILE,
    is_out_of_memory,
    memory_budget,
    run_with_oom_retry,
    tile_for_memory,
)
from qagan_core.inference.tiling import tile_starts, tiled_apply
from qagan_core.model import ModelConfig
from qagan_core.model.generators import apply_curve
from qagan_core.model.qagan import QAGAN
from qagan_core.pixels import long_side_shape


@pytest.fixture(scope="module")
def model(random_encoder) -> QAGAN:
    """Random encoder; generators perturbed so the output depends on local context."""
    return perturbed_model(random_encoder, ModelConfig())


def photo_like(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Smooth colour regions plus fine texture, deterministic, ``[3,h,w]`` in 0..1."""
    g = torch.Generator().manual_seed(seed)
    coarse = F.interpolate(torch.rand(1, 3, h // 16 + 2, w // 16 + 2, generator=g), size=(h, w),
                           mode="bicubic", align_corners=False)[0]
    fine = 0.08 * (torch.rand(3, h, w, generator=g) - 0.5)
    return (0.15 + 0.7 * coarse + fine).clamp(0, 1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / ((a - b) ** 2).mean()))


# --- exact tiled mode -------------------------------------------------------------------------


@pytest.mark.parametrize("length,tile,overlap", [(100, 64, 8), (336, 256, 64), (1000, 320, 48), (64, 64, 16)])
def test_tile_starts_cover_and_align(length: int, tile: int, overlap: int) -> None:
    starts = tile_starts(length, tile, overlap, align=16)
    assert starts[0] == 0 and starts[-1] + tile >= length
    assert all(s % 16 == 0 for s in starts if s != length - tile)
    assert all(b - a <= tile - 2 * overlap for a, b in itertools.pairwise(starts))


@pytest.mark.parametrize("h,w", [(130, 200), (64, 64), (97, 301)])
def test_tiled_apply_is_exact_for_local_operator(h: int, w: int) -> None:
    """A 5x5 box filter needs 2 pixels of context; with overlap 16 tiling must not change it."""
    x = torch.rand(2, 3, h, w, generator=torch.Generator().manual_seed(1))

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(t, 5, stride=1, padding=2, count_include_pad=False)

    ref = blur(F.pad(x, (0, (-w) % 16, 0, (-h) % 16), mode="reflect"))[..., :h, :w]
    out = tiled_apply(blur, x, tile=64, overlap=16)
    assert out.shape == x.shape
    assert torch.allclose(out, ref, atol=1e-5)


def test_tiled_matches_untiled_network(model: QAGAN) -> None:
    """Default overlap: tiled vs untiled within 1/255 MAE and no visible seam."""
    x = photo_like(270, 330)
    untiled = enhance(x, model, mode="exact", tile=0)
    tiled = enhance(x, model, mode="exact", tile=256, overlap=DEFAULT_OVERLAP)
    diff = (tiled - untiled).abs()
    assert tiled.shape == x.shape
    assert diff.mean() < 1 / 255
    assert diff.max() < 4 / 255  # a seam would show as a line of large differences
    assert (untiled - x).abs().mean() > 3 / 255  # the network really changes the image


# --- fast mode --------------------------------------------------------------------------------


def test_resolve_mode() -> None:
    assert resolve_mode("auto", 3000, 4000, 1024) == "fast"
    assert resolve_mode("auto", 768, 1024, 1024) == "exact"
    assert resolve_mode("exact", 3000, 4000) == "exact"
    assert resolve_mode("fast", 10, 10) == "fast"
    with pytest.raises(QAGANError):
        resolve_mode("quick", 10, 10)
    assert long_side_shape(3000, 4000, 1024) == (768, 1024)
    assert long_side_shape(100, 50, 1024) == (100, 50)


def test_local_affine_reproduces_affine_colour_change() -> None:
    """An exact per-pixel affine colour change is recovered and applied at 4x the resolution."""
    g = torch.Generator().manual_seed(2)
    big = torch.rand(1, 3, 128, 160, generator=g)
    mix = torch.tensor([[0.9, 0.1, 0.0], [0.05, 1.1, -0.1], [0.0, 0.2, 0.8]])
    change = lambda t: torch.einsum("ij,bjhw->bihw", mix, t) + 0.05  # noqa: E731
    small = F.interpolate(big, size=(32, 40), mode="bilinear", antialias=True, align_corners=False)
    coeffs = fit_local_affine(small, change(small), radius=2, eps=1e-6)
    out = apply_local_affine(big, coeffs)
    assert out.shape == big.shape
    assert (out - change(big)).abs().max() < 2e-3


def test_apply_local_affine_matches_bilinear_upsampling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strip-wise application equals upsampling all coefficients at once (F.interpolate)."""
    monkeypatch.setattr(fast_module, "STRIP_PIXELS", 900)  # 10-row strips
    g = torch.Generator().manual_seed(5)
    x, coeffs = torch.rand(2, 3, 70, 90, generator=g), torch.rand(2, 12, 9, 13, generator=g)
    up = F.interpolate(coeffs, size=(70, 90), mode="bilinear", align_corners=False)
    ref = (up[:, :9].view(2, 3, 3, 70, 90) * x[:, None]).sum(2) + up[:, 9:]
    assert torch.allclose(apply_local_affine(x, coeffs), ref, atol=1e-5)


def test_fast_mode_keeps_size_detail_and_transfers_colour(model: QAGAN) -> None:
    h, w = 192, 256
    x = photo_like(h, w, seed=3)
    checker = ((torch.arange(h)[:, None] + torch.arange(w)[None, :]) % 2).float()
    x = (x * 0.8 + 0.1 + 0.06 * (checker - 0.5)).clamp(0, 1)
    fast = enhance(x, model, mode="fast", working_size=64)
    exact = enhance(x, model, mode="exact")
    assert fast.shape == x.shape

    def checker_amplitude(t: torch.Tensor) -> float:
        return float((t * (2 * checker - 1)).mean())

    # The 1-pixel checkerboard is invisible at the working size (64 px) yet survives in full.
    assert checker_amplitude(fast) > 0.6 * checker_amplitude(x)
    x_lo = F.interpolate(x[None], size=(48, 64), mode="bilinear", antialias=True, align_corners=False)
    with torch.inference_mode():
        transform = model.global_transform(x[None])
        y_lo = model.enhance_tensor(x_lo, transform).clamp(0, 1)
        global_only = apply_curve(x[None], *transform)[0].clamp(0, 1)
    upsampled = F.interpolate(y_lo, size=(h, w), mode="bilinear", align_corners=False)[0]
    assert abs(checker_amplitude(upsampled)) < 0.2 * checker_amplitude(x)
    # The colour change is transferred: closer to the exact result than the global-only part.
    assert psnr(fast, exact) > psnr(global_only, exact) + 3
    assert psnr(fast, exact) > psnr(upsampled, exact) + 3


def test_auto_mode_and_batches(model: QAGAN) -> None:
    xs = torch.stack([photo_like(40, 56, seed=s) for s in range(3)])
    batched = enhance(xs, model, mode="exact", batch_size=3)
    single = torch.stack([enhance(x, model, mode="exact") for x in xs])
    assert torch.allclose(batched, single, atol=1e-4)
    mixed = enhance([xs[0], photo_like(90, 120)], model, mode="auto", working_size=64)
    assert [tuple(t.shape) for t in mixed] == [(3, 40, 56), (3, 90, 120)]
    # Old positional call style still works.
    old = enhance(xs[0], model, 1.0, None, 64)
    assert old.shape == xs[0].shape


def test_bfloat16_close_to_float32(model: QAGAN) -> None:
    assert autocast_dtype("auto", torch.device("cpu")) == torch.float32
    x = photo_like(64, 64, seed=4)
    full = enhance(x, model, mode="exact", precision="float32")
    half = enhance(x, model, mode="exact", precision="bfloat16")
    assert psnr(full, half) > 35


# --- memory-based tile size and out-of-memory retry -------------------------------------------


def test_tile_size_from_memory() -> None:
    assert tile_for_memory(0) == MIN_TILE
    assert tile_for_memory(10**15) == MAX_TILE
    mid = tile_for_memory(2 * 2**30)
    assert mid % 16 == 0 and MIN_TILE < mid < MAX_TILE
    assert tile_for_memory(2 * 2**30, torch.bfloat16) > mid  # 16-bit activations: larger tiles
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    sizes = [tile_for_memory(memory_budget(cpu, available=gb * 2**30)) for gb in (1, 2, 4, 64)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert memory_budget(cpu, available=64 * 2**30) <= 3 * 2**30  # CPU tiles stay bounded
    assert memory_budget(cuda, available=10 * 2**30) == 6 * 2**30
    assert tile_for_memory(memory_budget(cuda, available=80 * 2**30)) == MAX_TILE


def test_oom_retry_shrinks_tiles() -> None:
    calls: list[int] = []
    retries: list[tuple[int, int]] = []

    def fake(tile: int) -> str:
        calls.append(tile)
        if tile > 256:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return f"ok {tile}"

    assert run_with_oom_retry(fake, 1024, on_retry=lambda a, b: retries.append((a, b))) == "ok 256"
    assert calls == [1024, 512, 256]
    assert retries == [(1024, 512), (512, 256)]


def test_oom_retry_gives_up_and_passes_other_errors() -> None:
    def never_fits(tile: int) -> None:
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 GB")

    with pytest.raises(QAGANError, match="out of memory"):
        run_with_oom_retry(never_fits, 512)

    def broken(tile: int) -> None:
        raise ValueError("not a memory problem")

    with pytest.raises(ValueError):
        run_with_oom_retry(broken, 512)
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("x"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


class _SmallMemoryModel:
    """Stands in for QAGAN: halves the image, but 'runs out of memory' above 128x128 inputs."""

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []

    def enhance_tensor(self, x: torch.Tensor, transform: object = None) -> torch.Tensor:
        self.sizes.append(tuple(x.shape[-2:]))
        if x.shape[-2] * x.shape[-1] > 128 * 128:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return x * 0.5


def test_network_pass_falls_back_to_tiles_on_oom() -> None:
    fake = _SmallMemoryModel()
    x = torch.rand(1, 3, 200, 300)
    y = run_network(fake, x, None, tile=0, overlap=16)  # type: ignore[arg-type]
    assert torch.allclose(y, x * 0.5, atol=1e-6)
    assert fake.sizes[0] == (200, 300)  # tried untiled first
    assert max(h * w for h, w in fake.sizes[-4:]) <= 128 * 128


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_non_finite_pixels_are_replaced_with_a_warning(model: QAGAN, mode: str, caplog) -> None:
    """A float image with NaN/inf (e.g. a float32 TIFF) enhances like its sanitised self."""
    x = photo_like(48, 64)
    bad = x.clone()
    bad[0, 3, 5], bad[1, 10, 10], bad[2, 20, 30] = float("nan"), float("inf"), float("-inf")
    clean = torch.nan_to_num(bad, nan=0.0, posinf=1.0, neginf=0.0)
    y = enhance(bad, model, mode=mode, working_size=32)
    assert torch.isfinite(y).all()
    assert torch.allclose(y, enhance(clean, model, mode=mode, working_size=32), atol=1e-6)
    assert "3 non-finite pixel values" in caplog.text
    ref = photo_like(32, 32, seed=1)
    ref[0, 0, 0] = float("nan")
    assert torch.isfinite(degrade(bad, ref, model)).all()
