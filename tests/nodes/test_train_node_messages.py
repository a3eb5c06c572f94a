"""What the Train node tells the user: durations written one way, and a resume with nothing left
to train said plainly."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
from conftest import PACK_NAME


def _module(name: str):
    return sys.modules[f"{PACK_NAME}.{name}"]


def test_the_node_writes_durations_as_the_library_does(pack) -> None:
    train_node = _module("nodes.train_node")
    assert train_node.format_duration is _module("qagan_core.progress").format_duration
    assert not hasattr(train_node, "_duration")


def test_queueing_a_finished_training_again_says_nothing_is_left(pack, comfyui, comfy_dirs, caplog) -> None:
    """A run's log says which generators the model is; resume 'auto' of a model already at its
    target step: a clear status text and log line, and the model is still returned."""
    common = _module("nodes.common")
    settings = dict(batch_size=1, crop_size=32, train_size=32, save_every=0, preview_every=0,
                    encoder=common.ENCODER_RANDOM, steps=1, unique_id="3")
    train = pack.NODE_CLASS_MAPPINGS["QAGANTrain"]()
    with torch.inference_mode():
        with caplog.at_level(logging.INFO, logger="qagan"):
            train.train("qagan_low", "qagan_high", "finished", **settings)
        assert comfyui.texts[-1][1].startswith("done: step 1 in ")
        assert "training done at step 1; the model is the generators averaged over the last 1 step" \
            in caplog.text  # what the model is, as the CLI says it (Trainer.exported)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="qagan"):
            model, _, loss = train.train("qagan_low", "qagan_high", "finished", **settings)
    expected = ("nothing left to train: finished is already at step 1 of 1; raise steps or set "
                "minutes to train more")
    assert comfyui.texts[-1] == ("3", expected)
    assert expected in caplog.text
    assert model.info["training"]["steps"] == 1 and len(loss["loss"]) == 2


def test_the_nothing_left_text_for_epochs_and_time_budgets(pack) -> None:
    text = _module("nodes.train_node")._nothing_left_text
    by_epochs = SimpleNamespace(budget_s=None, step=90, total_steps=90, config=SimpleNamespace(steps=None))
    assert text(by_epochs, Path("look.safetensors")) == (
        "nothing left to train: look is already at step 90 of 90; raise epochs (or steps) or set "
        "minutes to train more")
    by_time = SimpleNamespace(budget_s=900.0, elapsed_s=903.4, step=120, total_steps=120,
                              config=SimpleNamespace(steps=None))
    assert text(by_time, Path("look.safetensors")) == (
        "nothing left to train: look has already trained 15 min 03 s of 15 min 00 s (step 120); "
        "raise minutes to train more")
