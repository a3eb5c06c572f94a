"""Enhancement of batches, lists of different sizes, strength, tiling; degradation."""

from __future__ import annotations

import pytest
import torch
from helpers import perturbed_model

from qagan_core import QAGAN, ModelConfig, QAGANError, degrade, enhance


@pytest.fixture(scope="module")
def model(random_encoder) -> QAGAN:
    return perturbed_model(random_encoder, ModelConfig(global_size=32))


def test_batch_and_list_shapes(model: QAGAN) -> None:
    batch = torch.rand(3, 3, 20, 24)
    out = enhance(batch, model)
    assert isinstance(out, torch.Tensor) and out.shape == batch.shape
    mixed = [torch.rand(3, 17, 33), torch.rand(3, 40, 8)]
    outs = enhance(mixed, model)
    assert [o.shape for o in outs] == [m.shape for m in mixed]
    single = enhance(mixed[0], model)
    assert single.shape == mixed[0].shape
    assert float(single.min()) >= 0 and float(single.max()) <= 1


def test_batch_equals_one_by_one(model: QAGAN) -> None:
    batch = torch.rand(2, 3, 32, 32)
    out = enhance(batch, model)
    assert torch.allclose(out[1], enhance(batch[1], model), atol=1e-6)


def test_strength_blends(model: QAGAN) -> None:
    x = torch.rand(3, 32, 32)
    full = enhance(x, model)
    half = enhance(x, model, strength=0.5)
    assert torch.allclose(enhance(x, model, strength=0.0), x)
    assert torch.allclose(half, (x + 0.5 * (full - x)).clamp(0, 1), atol=1e-5)
    with pytest.raises(QAGANError, match="strength"):
        enhance(x, model, strength=1.5)


def test_tiled_close_to_untiled(model: QAGAN) -> None:
    x = torch.rand(3, 96, 80)
    whole = enhance(x, model, tile=0)
    tiled = enhance(x, model, tile=64, overlap=16)
    assert (whole - tiled).abs().mean() < 0.02


def test_bad_inputs(model: QAGAN) -> None:
    with pytest.raises(QAGANError, match="RGB"):
        enhance(torch.rand(1, 8, 8), model)
    with pytest.raises(QAGANError, match="empty"):
        enhance(torch.rand(3, 0, 8), model)
    assert enhance([], model) == []


def test_degrade_shapes(model: QAGAN) -> None:
    out = degrade(torch.rand(2, 3, 24, 20), torch.rand(3, 600, 40), model)
    assert out.shape == (2, 3, 24, 20)


def test_degrade_out_of_memory_is_clear(model: QAGAN, monkeypatch) -> None:
    def no_memory(*_args):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB")

    monkeypatch.setattr(model, "degrade_tensor", no_memory)
    with pytest.raises(QAGANError, match="out of memory degrading a 20x24 image"):
        degrade(torch.rand(3, 24, 20), torch.rand(3, 16, 16), model)
    monkeypatch.undo()
