"""Progress inside one image (``enhance(on_step=...)``) and the memory estimate hosts free for it."""

from __future__ import annotations

import re

import pytest
import torch
from helpers import perturbed_model

from qagan_core import QAGAN, ModelConfig, enhance
from qagan_core.inference import STEP_UNITS, memory_required, module_bytes
from qagan_core.inference.enhance import network_stages


@pytest.fixture(scope="module")
def model(random_encoder) -> QAGAN:
    return perturbed_model(random_encoder, ModelConfig(global_size=32))


def _run(model: QAGAN, x: torch.Tensor, **options) -> list[tuple[int, int, str]]:
    steps: list[tuple[int, int, str]] = []
    enhance(x, model, on_step=lambda done, total, stage: steps.append((done, total, stage)), **options)
    return steps


def _check_monotone_to_the_end(steps: list[tuple[int, int, str]], images: int) -> None:
    assert steps, "on_step was never called"
    assert all(total == images * STEP_UNITS for _, total, _ in steps)
    dones = [done for done, _, _ in steps]
    assert dones == sorted(dones) and dones[-1] == images * STEP_UNITS


def test_every_tile_reported_once(model: QAGAN) -> None:
    x = torch.rand(3, 100, 150)
    steps = _run(model, x, mode="exact", tile=64, overlap=8)
    tiles = [re.fullmatch(r"tile (\d+)/(\d+)", stage) for _, _, stage in steps]
    counts = [(int(m[1]), int(m[2])) for m in tiles if m]
    assert counts, f"no tile reported: {steps}"
    n = counts[0][1]
    assert n > 1 and all(total == n for _, total in counts)
    assert sorted(k for k, _ in counts) == list(range(1, n + 1))  # each tile exactly once
    assert steps[0][2] == "global transform"
    _check_monotone_to_the_end(steps, 1)
    # progress moves during the image, tile by tile, not only when it ends
    assert len({done for done, _, _ in steps if 0 < done < STEP_UNITS}) >= n


def test_untiled_pass_reports_encoder_and_decoder_stages(model: QAGAN) -> None:
    steps = _run(model, torch.rand(2, 3, 40, 48), mode="exact", tile=0)
    labels = [stage for _, _, stage in steps]
    expected = [label for label, _ in network_stages(model)]
    assert len(expected) == 9 and expected[0] == "encode relu1_1" and expected[-1] == "decode 4/4"
    for label in expected:  # once per image (a CPU pass takes one image at a time)
        assert labels.count(label) == 2, labels
    _check_monotone_to_the_end(steps, 2)
    assert any(0 < done < STEP_UNITS for done, _, _ in steps)


def test_fast_mode_reports_the_transfer(model: QAGAN) -> None:
    steps = _run(model, torch.rand(3, 48, 80), mode="fast", working_size=32)
    labels = [stage for _, _, stage in steps]
    assert labels[0] == "global transform" and labels[-1] == "transfer to full resolution"
    assert "encode relu5_1" in labels
    _check_monotone_to_the_end(steps, 1)


def test_stage_hooks_are_removed(model: QAGAN) -> None:
    _run(model, torch.rand(3, 32, 32), tile=0)
    assert all(not module._forward_hooks for _, module in network_stages(model))


def test_memory_required_covers_weights_image_and_pass(model: QAGAN) -> None:
    cpu = torch.device("cpu")
    weights = module_bytes(model)
    small = memory_required(model, 64, 64, "exact", device=cpu)
    assert small > weights + 64 * 64 * 2000
    big_exact = memory_required(model, 4000, 3000, "exact", tile=512, device=cpu)
    big_auto = memory_required(model, 4000, 3000, "exact", device=cpu)
    big_fast = memory_required(model, 4000, 3000, "fast", device=cpu)
    assert small < big_exact < big_auto  # a given tile bounds the pass; automatic tiles up to 1 MP
    assert big_fast < big_auto  # fast mode runs the network at the working size
