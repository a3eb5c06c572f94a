"""Learning the look (issue 9): the colour head, the time budget, the paper preset, the
best-by-validation export."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY_MODEL, tiny_config, write_photos
from PIL import Image

from qagan_core import Cancelled, TrainConfig, Trainer, enhance, load_image, read_model_info
from qagan_core.cli import main
from qagan_core.training import lr_factor_at, preset_settings
from qagan_core.training import trainer as trainer_module


def graded_photos(folder: Path, grade: str) -> None:
    """Photos (seed 2) carrying a warm (red up, blue down) or cool (the reverse) grade."""
    for path in write_photos(folder, 6, seed=2, dark=False):
        x = np.asarray(Image.open(path), dtype=np.float32) / 255.0
        gains = np.array([1.25, 1.0, 0.75] if grade == "warm" else [0.75, 1.0, 1.25], np.float32)
        y = np.clip(x * gains + (0.05 if grade == "warm" else 0.0), 0, 1)
        Image.fromarray((y * 255).round().astype(np.uint8)).save(path.with_suffix(".png"))
        if path.suffix != ".png":
            path.unlink()


class FakeClock:
    """Stands in for the ``time`` module of the trainer: every reading ``step_s`` later, so
    each training step (from its first reading to its second) takes ``step_s``."""

    def __init__(self, step_s: float) -> None:
        self.now, self.step_s = 0.0, step_s

    def monotonic(self) -> float:
        self.now += self.step_s
        return self.now


def red_minus_blue(x: torch.Tensor) -> float:
    return float(x[..., 0, :, :].mean() - x[..., 2, :, :].mean())


@pytest.mark.parametrize("objective", ["pairs", "colors"])
def test_two_high_folders_teach_two_different_looks(tmp_path: Path, random_encoder, objective: str) -> None:
    low = tmp_path / "low"
    write_photos(low, 6, seed=1, dark=False)
    x = load_image(write_photos(tmp_path / "test", 1, seed=3, dark=False)[0])
    shift = {}
    for grade in ("warm", "cool"):
        high = tmp_path / grade
        graded_photos(high, grade)
        trainer = Trainer(tiny_config(low, high, steps=2, color_steps=60, head_objective=objective),
                          random_encoder)
        trainer.run()
        shift[grade] = red_minus_blue(enhance(x, trainer.export_model())) - red_minus_blue(x)
    # each model moves the held-out photo towards its own folder's look, clearly
    assert shift["warm"] > 0.08 and shift["cool"] < -0.08


def test_head_learns_only_from_the_colour_term(folders, random_encoder) -> None:
    low, high = folders
    trainer = Trainer(tiny_config(low, high, steps=1, color_steps=1), random_encoder)
    head = trainer.model.g_h.curve
    before = {k: v.clone() for k, v in head.state_dict().items()}
    trainer.color.step = lambda lr_factor: 0.0  # the colour term skipped: the head must not move
    trainer.train_step()
    for key, value in head.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert any(p.grad is not None for p in trainer.model.g_h.dec1.parameters())


def test_time_budget_ends_on_time_with_the_rate_decayed(folders, random_encoder, monkeypatch) -> None:
    low, high = folders

    monkeypatch.setattr(trainer_module, "time", FakeClock(5.0))
    trainer = Trainer(tiny_config(low, high, steps=None, minutes=0.5, color_steps=1), random_encoder)
    result = trainer.run()
    assert result.steps == 6 and trainer.total_steps == 6
    assert trainer.elapsed_s == pytest.approx(30.0)
    lrs = [h["lr_g"] for h in trainer.history]
    assert lrs[0] == pytest.approx(1e-4) and lrs[-1] == pytest.approx(1e-4 * lr_factor_at(25 / 30))
    assert lr_factor_at(0.25) == 1.0 and lr_factor_at(0.75) == pytest.approx(0.5)


def test_budget_resumes_with_the_time_left(folders, random_encoder, tmp_path: Path) -> None:
    low, high = folders
    trainer = Trainer(tiny_config(low, high, steps=None, minutes=10, color_steps=1), random_encoder)
    trainer.train_step()
    trainer.elapsed_s = 300.0
    trainer.save_state(tmp_path / "s.safetensors")
    resumed = Trainer.resume(tmp_path / "s.safetensors", encoder=random_encoder)
    assert resumed.elapsed_s == 300.0 and resumed.step == 1 and not resumed.finished()
    assert resumed._lr_factor() == 1.0  # half of the budget used: still the full rate


@pytest.mark.parametrize("objective", ["pairs", "colors"])
def test_best_by_validation_is_exported_and_survives_resume(folders, random_encoder, tmp_path: Path,
                                                            objective: str) -> None:
    """export "best" keeps the generators closest to the high folder's colours (lowest
    val_color), whichever objective trains the head."""
    low, high = folders
    trainer = Trainer(tiny_config(low, high, steps=3, color_steps=2, head_objective=objective,
                                  export="best"), random_encoder)
    trainer.run()
    checks = [h for h in trainer.history if "val_color" in h]
    assert len(checks) == 3
    best = min(checks, key=lambda h: h["val_color"])
    assert trainer.best["score"] == best["val_color"]
    assert trainer.best["step"] == best["step"]
    exported = trainer.export_model()
    for key, value in exported.g_h.state_dict().items():
        assert torch.equal(value.cpu(), trainer.best["g_h"][key].cpu()), key
    trainer.save_state(tmp_path / "s.safetensors")
    resumed = Trainer.resume(tmp_path / "s.safetensors", encoder=random_encoder)
    assert resumed.best["step"] == trainer.best["step"]
    for key, value in resumed.export_model().g_h.state_dict().items():
        assert torch.equal(value.cpu(), exported.g_h.state_dict()[key].cpu()), key


def _generators(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {f"{name}.{k}": v.detach().clone() for name, module in (("g_h", trainer.model.g_h),
                                                                  ("g_l", trainer.model.g_l))
            for k, v in module.state_dict().items()}


def test_the_average_of_the_second_half_is_exported_and_survives_resume(folders, random_encoder,
                                                                       tmp_path: Path) -> None:
    """export "average": the model gets the mean of the generators after each step of the second
    half (steps 3 to 6 of 6), and a run resumed in that half exports the same average."""
    low, high = folders
    config = tiny_config(low, high, steps=6, color_steps=1, export="average")
    trainer = Trainer(config, random_encoder)
    seen: list[dict[str, torch.Tensor]] = []
    trainer.run(on_progress=lambda p: seen.append(_generators(trainer)))
    assert trainer.average["steps"] == 4
    exported = trainer.export_model()
    assert exported.info["training"]["averaged_steps"] == 4
    assert not torch.equal(exported.g_h.to_rgb[1].weight, trainer.model.g_h.to_rgb[1].weight)
    for name in ("g_h", "g_l"):
        for key, value in getattr(exported, name).state_dict().items():
            mean = torch.stack([s[f"{name}.{key}"].float() for s in seen[2:]]).mean(0)
            assert torch.allclose(value.float(), mean, atol=1e-6), (name, key)

    state = tmp_path / "s.state.safetensors"
    stopped = Trainer(config, random_encoder, state_path=state)
    with pytest.raises(Cancelled):
        stopped.run(should_stop=lambda: stopped.step == 4)
    resumed = Trainer.resume(state, encoder=random_encoder)
    assert resumed.average["steps"] == 2
    resumed.run()
    for key, value in resumed.export_model().g_h.state_dict().items():
        assert torch.allclose(value, exported.g_h.state_dict()[key], atol=1e-6), key


def test_with_a_head_budget_the_average_starts_after_the_heads_last_update(folders, random_encoder) -> None:
    """export "average" with ``head_updates``: the steps of the second half after the head's last
    update are averaged (steps 4 to 6 of 6 for a budget of 4 steps); a run that ends with the
    budget exports its last generators, not a mean over the head's decay."""
    low, high = folders
    config = tiny_config(low, high, steps=6, color_steps=1, head_updates=4, export="average")
    trainer = Trainer(config, random_encoder)
    seen: list[dict[str, torch.Tensor]] = []
    trainer.run(on_progress=lambda p: seen.append(_generators(trainer)))
    assert trainer.average["steps"] == 3
    for key, value in trainer.export_model().g_h.state_dict().items():
        mean = torch.stack([s[f"g_h.{key}"].float() for s in seen[3:]]).mean(0)
        assert torch.allclose(value.float(), mean, atol=1e-6), key

    ends_with_budget = Trainer(replace(config, head_updates=6), random_encoder)
    ends_with_budget.run()
    assert ends_with_budget.average["steps"] == 1
    last = _generators(ends_with_budget)
    exported = ends_with_budget.export_model()
    for name in ("g_h", "g_l"):
        for key, value in getattr(exported, name).state_dict().items():
            assert torch.equal(value, last[f"{name}.{key}"]), (name, key)


def test_a_resumed_average_that_includes_steps_before_the_heads_last_update_starts_again(
        folders, random_encoder, tmp_path: Path, caplog) -> None:
    """A state whose average folds in steps before the head's last update (saved before the
    average waited for the head's budget, or resumed with another budget) must not be mixed
    with the rule of the resumed run: its average starts again, after the head's last update."""
    low, high = folders
    state = tmp_path / "s.state.safetensors"
    stopped = Trainer(tiny_config(low, high, steps=6, color_steps=1, export="average"), random_encoder,
                      state_path=state)
    with pytest.raises(Cancelled):
        stopped.run(should_stop=lambda: stopped.step == 5)
    assert stopped.average["steps"] == 3  # steps 3 to 5: no head budget
    with caplog.at_level("WARNING", logger="qagan"):
        resumed = Trainer.resume(state, {"head_updates": 5}, encoder=random_encoder)
    assert resumed.average is None
    assert "includes steps before the head's last update" in caplog.text
    kept = Trainer.resume(state, {"head_updates": 3}, encoder=random_encoder)  # spent at step 3
    assert kept.average["steps"] == 3
    resumed.run()
    assert resumed.average["steps"] == 1  # step 6 only; step 5 made the head's last update


def test_a_run_that_averaged_nothing_says_why_its_model_is_the_last_generators(folders,
                                                                                random_encoder) -> None:
    """export "average" with nothing averaged exports the current generators; the end-of-run text
    (``Trainer.exported``, printed by the CLI, logged by the Train node) must say so and why."""
    low, high = folders
    budget_left = Trainer(tiny_config(low, high, steps=2, color_steps=1, head_updates=4,
                                      export="average"), random_encoder)
    budget_left.run()
    assert budget_left.average is None
    assert budget_left.exported() == ("the generators of the last step (nothing was averaged: the run "
                                      "ended before the head's budget was spent)")
    stopped = Trainer(tiny_config(low, high, steps=6, color_steps=1, export="average"), random_encoder)
    with pytest.raises(Cancelled):
        stopped.run(should_stop=lambda: stopped.step == 2)
    assert stopped.exported().endswith("(nothing was averaged: the run ended before its second half)")
    averaged = Trainer(tiny_config(low, high, steps=2, color_steps=1, export="average"), random_encoder)
    averaged.run()
    assert averaged.exported() == ("the generators averaged over the last 2 steps (of the second half "
                                   "of the run)")


def test_a_resume_that_changes_the_export_rule_drops_the_old_rules_record(folders, random_encoder,
                                                                         tmp_path: Path) -> None:
    """A state trained with export "average" and resumed with "best" (or the reverse) must not
    export the old rule's saved generators: they would win over the new rule at export."""
    low, high = folders
    state = tmp_path / "s.state.safetensors"
    for first, then in (("average", "best"), ("best", "average")):
        stopped = Trainer(tiny_config(low, high, steps=6, color_steps=1, export=first), random_encoder,
                          state_path=state)
        with pytest.raises(Cancelled):
            stopped.run(should_stop=lambda t=stopped: t.step == 4)
        assert getattr(stopped, first) is not None  # the old rule's record is in the state
        resumed = Trainer.resume(state, {"export": then}, encoder=random_encoder)
        assert getattr(resumed, first) is None, f"{first} kept after resuming with export {then!r}"
        resumed.run()
        record = getattr(resumed, then)
        exported = resumed.export_model().g_h.state_dict()
        for key, value in record["g_h"].items():
            assert torch.equal(exported[key], value), key


def test_paper_preset_is_the_paper(folders, random_encoder) -> None:
    low, high = folders
    cfg = TrainConfig(**preset_settings("paper"))
    assert (cfg.lr_g, cfg.lr_d, cfg.beta1, cfg.beta2, cfg.batch_size, cfg.epochs) == (
        1e-4, 1e-4, 0.5, 0.999, 12, 150)
    assert (cfg.crop_size, cfg.train_size, cfg.lambda_cc, cfg.lambda_adv) == (256, 128, 2.0, 1.0)
    assert (cfg.lambda_idt, cfg.history_size, cfg.color_steps, cfg.export) == (0, 0, 0, "last")
    assert cfg.lambda_unet_mean == 0
    assert not cfg.model.global_curve and not cfg.model.qam_residual and cfg.model.use_qam
    small = {**preset_settings("paper"), "model": TINY_MODEL.__class__(
        **{**TINY_MODEL.to_dict(), "global_curve": False, "qam_residual": False})}
    trainer = Trainer(tiny_config(low, high, **small), random_encoder)
    assert trainer.color is None and trainer.model.g_h.curve is None
    trainer.run()
    assert trainer.best is None
    with pytest.raises(ValueError, match="unknown preset"):
        preset_settings("fancy")


def test_old_states_train_without_the_colour_head(random_encoder) -> None:
    old = {k: v for k, v in TrainConfig().to_dict().items()
           if k not in ("color_steps", "export", "lr_color", "color_batch", "minutes",
                        "head_objective", "degradation_updates", "degradation_fits")}
    cfg = TrainConfig.from_dict(old)
    assert cfg.color_steps == 0 and cfg.export == "last" and cfg.minutes is None
    assert TrainConfig().head_objective == "pairs"
    assert cfg.degradation_fits == 1  # its degradation (if any) was a single fit
    # a state from before the pairs objective trained its head with the colour term
    assert TrainConfig.from_dict({**old, "color_steps": 16}).head_objective == "colors"


def test_cli_minutes_prints_what_it_chose(folders, tmp_path: Path, capsys, monkeypatch) -> None:
    low, high = folders
    monkeypatch.setattr(trainer_module, "time", FakeClock(30.0))
    model = tmp_path / "m.safetensors"
    assert main(["train", "--low", str(low), "--high", str(high), "--out", str(model),
                 "--minutes", "1", "--load-size", "48", "--crop-size", "32", "--train-size", "32",
                 "--encoder", "random", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "on cpu for 1 min" in err and "batch 4" in err and "crops 32 px resized to 32 px" in err
    assert "ran 2 steps" in err
    training = read_model_info(model)["training"]
    assert training["minutes"] == 1 and training["steps"] == 2 and training["batch_size"] == 4


def test_cli_resume_alone_keeps_the_saved_settings(folders, tmp_path: Path) -> None:
    low, high = folders
    model = tmp_path / "m.safetensors"
    assert main(["train", "--low", str(low), "--high", str(high), "--out", str(model), "--steps", "1",
                 "--batch-size", "2", "--load-size", "48", "--crop-size", "32", "--train-size", "32",
                 "--seed", "7", "--head-objective", "colors", "--export", "last", "--encoder", "random",
                 "--device", "cpu"]) == 0
    state = tmp_path / "m.state.safetensors"
    assert main(["train", "--resume", str(state), "--steps", "2"]) == 0
    training = read_model_info(model)["training"]
    assert (training["steps"], training["batch_size"], training["train_size"], training["seed"],
            training["head_objective"], training["export"]) == (2, 2, 32, 7, "colors", "last")


def test_cli_drop_state_keeps_only_the_model(folders, tmp_path: Path) -> None:
    low, high = folders
    model = tmp_path / "m.safetensors"
    assert main(["train", "--low", str(low), "--high", str(high), "--out", str(model), "--steps", "1",
                 "--batch-size", "1", "--load-size", "48", "--crop-size", "32", "--train-size", "32",
                 "--encoder", "random", "--device", "cpu", "--drop-state"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["high", "low", "m.safetensors"]
