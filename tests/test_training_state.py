"""The training-state file format (qagan_core/checkpoints.py): its on-disk layout, reading it
back, states saved before later entries, damage, and that it has one home."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import torch
from helpers import ROOT, tiny_config, write_photos
from safetensors import safe_open
from safetensors.torch import save_file

from qagan_core import ModelFileError
from qagan_core.checkpoints import TrainingState, read_safetensors, read_training_state
from qagan_core.model import ARCH_NAME
from qagan_core.training import Trainer

META_KEYS = {
    "format", "format_version", "arch", "config", "encoder", "random_encoder", "training",
    "train_config", "step", "elapsed_s", "scaler", "best", "average", "param_groups", "rng_python",
    "history",
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory, random_encoder) -> tuple[Trainer, Path]:
    """A trainer after one step with every optional part in use, and its saved state."""
    work = tmp_path_factory.mktemp("state")
    write_photos(work / "low", 3, seed=1, dark=True)
    write_photos(work / "high", 3, seed=2, dark=False)
    config = tiny_config(work / "low", work / "high", steps=3, color_steps=1, export="best",
                         history_size=2)
    trainer = Trainer(config, random_encoder)
    trainer.train_step()
    trainer.validate()
    assert trainer.best is not None and trainer.color is not None
    return trainer, trainer.save_state(work / "s.state.safetensors")


def _with_prefix(prefix: str, keys) -> set[str]:
    return {k[len(prefix) + 1:] for k in keys if k.startswith(prefix + ".")}


def test_the_layout_on_disk(saved) -> None:
    """Pins the file format: files written before must keep loading, so these names stay."""
    trainer, path = saved
    tensors, meta = read_safetensors(path)
    assert set(meta) == META_KEYS
    assert (meta["format"], meta["format_version"], meta["arch"]) == ("qagan-training-state", "1", ARCH_NAME)
    assert meta["random_encoder"] == "true"
    assert json.loads(meta["step"]) == 1 and json.loads(meta["scaler"]) is None
    assert set(json.loads(meta["best"])) == {"score", "step"}
    groups = json.loads(meta["param_groups"])
    assert set(groups) == {"opt_g", "opt_d"} and groups["opt_g"][0]["betas"] == [0.5, 0.999]
    assert len(json.loads(meta["rng_python"])) == 3 and len(json.loads(meta["history"])) == 1
    assert json.loads(meta["train_config"]) == trainer.config.to_dict()
    assert json.loads(meta["config"]) == trainer.config.model.to_dict()
    assert json.loads(meta["training"])["steps"] == 1

    networks = {"g_h": trainer.model.g_h, "g_l": trainer.model.g_l, "d_h": trainer.d_h, "d_l": trainer.d_l}
    for name, module in networks.items():
        assert _with_prefix(name, tensors) == set(module.state_dict()), name
    for name in ("g_h", "g_l"):
        assert _with_prefix(f"best.{name}", tensors) == set(networks[name].state_dict())
    optimizer = re.compile(r"(opt_g|opt_d|color\.opt)\.\d+\.(step|exp_avg|exp_avg_sq)")
    parts = {k for k in tensors if optimizer.fullmatch(k)}
    assert any(k.startswith("opt_g.") for k in parts) and any(k.startswith("opt_d.") for k in parts)
    assert any(k.startswith("color.opt.") for k in parts)
    assert tensors["history_h"].shape[0] == tensors["history_l"].shape[0] == 1
    weights = ("g_h.", "g_l.", "d_h.", "d_l.", "best.g_h.", "best.g_l.")
    degradation = {k for k in tensors if k.startswith("color.degradation.")}
    assert _with_prefix("color.degradation", degradation) == set(trainer.color.degradation.state_dict())
    others = {k for k in tensors if not k.startswith(weights)}
    assert others - parts - degradation == {"history_h", "history_l", "color.rng"}


def test_reading_gives_each_part_back(saved) -> None:
    trainer, path = saved
    state = read_training_state(path)
    assert isinstance(state, TrainingState) and state.source == path
    assert state.step == 1 and state.elapsed_s == trainer.elapsed_s
    assert state.rng_python == trainer.rng.getstate()
    assert state.history == trainer.history and state.scaler is None
    assert state.encoder == {"kind": "random", "source": trainer.encoder.identity.source,
                             "fingerprint": trainer.encoder.identity.fingerprint}
    for name, module in (("g_h", trainer.model.g_h), ("d_l", trainer.d_l)):
        own = module.state_dict()
        assert all(torch.equal(state.networks[name][k], own[k]) for k in own)
    for name, opt in (("opt_g", trainer.opt_g), ("opt_d", trainer.opt_d)):
        own = opt.state_dict()
        assert state.optimizers[name]["param_groups"] == own["param_groups"]  # betas a tuple again
        assert state.optimizers[name]["state"].keys() == own["state"].keys()
        first = next(iter(own["state"]))
        assert torch.equal(state.optimizers[name]["state"][first]["exp_avg"], own["state"][first]["exp_avg"])
    assert state.best["step"] == trainer.best["step"] and state.best["score"] == trainer.best["score"]
    assert torch.equal(state.history_images["history_h"], trainer.history_h.state())
    assert set(state.color) == set(trainer.color.state_tensors())


def test_a_state_read_back_saves_the_same_file(saved, random_encoder, tmp_path: Path) -> None:
    """Resuming and saving again at once rewrites the same tensors and metadata."""
    _, path = saved
    resumed = Trainer.resume(path, encoder=random_encoder)
    again = resumed.save_state(tmp_path / "again.state.safetensors")
    a, meta_a = read_safetensors(path)
    b, meta_b = read_safetensors(again)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    for meta in (meta_a, meta_b):
        meta["training"] = json.dumps({**json.loads(meta["training"]), "date": None})
    assert meta_a == meta_b


def test_a_state_saved_before_later_entries_still_resumes(saved, random_encoder, tmp_path: Path) -> None:
    """States from before elapsed_s, best, average and the full scaler record (scaler.scale
    tensor) load."""
    _, path = saved
    with safe_open(str(path), framework="pt") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        meta = dict(fh.metadata())
    for key in ("elapsed_s", "best", "average", "scaler"):
        del meta[key]
    tensors["scaler.scale"] = torch.tensor([512.0])
    old = tmp_path / "old.state.safetensors"
    save_file(tensors, str(old), metadata=meta)
    state = read_training_state(old)
    assert state.elapsed_s == 0.0 and state.best is None and state.average is None
    assert state.scaler == {"scale": 512.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                            "growth_interval": 2000, "_growth_tracker": 0}
    resumed = Trainer.resume(old, encoder=random_encoder)
    assert resumed.step == 1 and resumed.best is None


@pytest.mark.parametrize("damage, message", [
    (lambda t, m: m.update(param_groups="{not json"), r"damaged QAGAN metadata \('param_groups'\)"),
    (lambda t, m: m.pop("rng_python"), r"damaged QAGAN metadata \('rng_python'\)"),
    (lambda t, m: t.update({"opt_g.x.exp_avg": torch.zeros(1)}), "damaged opt_g optimizer state"),
    (lambda t, m: t.update({"color.opt.x.exp_avg": torch.zeros(1)}), "damaged colour-head optimizer state"),
    (lambda t, m: m.update(format="qagan-model"), "an enhancement model, not a training state"),
    (lambda t, m: m.update(format_version="2"), "format version '2'"),
])
def test_a_damaged_state_is_refused(saved, tmp_path: Path, damage, message) -> None:
    _, path = saved
    with safe_open(str(path), framework="pt") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        meta = dict(fh.metadata())
    damage(tensors, meta)
    bad = tmp_path / "bad.state.safetensors"
    save_file(tensors, str(bad), metadata=meta)
    with pytest.raises(ModelFileError, match=message):
        read_training_state(bad)


def test_no_private_name_of_checkpoints_is_used_elsewhere() -> None:
    """checkpoints.py is the one home of the file formats: others use its public functions."""
    offenders = []
    for folder in ("qagan_core", "nodes", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "checkpoints.py" or "node_modules" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("checkpoints"):
                    offenders += [f"{path}: {a.name}" for a in node.names if a.name.startswith("_")]
                elif (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                      and isinstance(node.value, ast.Name) and node.value.id == "checkpoints"):
                    offenders.append(f"{path}: checkpoints.{node.attr}")
    assert not offenders, offenders
