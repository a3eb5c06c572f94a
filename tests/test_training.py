"""End-to-end training on tiny images: checkpoints, resume, divergence, cancellation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import tiny_config

from qagan_core import (
    Cancelled,
    QAGANError,
    Trainer,
    TrainingDiverged,
    enhance,
    load_model,
    read_model_info,
)
from qagan_core.training import lr_factor


def _weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    out = {}
    for name, module in (("g_h", trainer.model.g_h), ("g_l", trainer.model.g_l),
                         ("d_h", trainer.d_h), ("d_l", trainer.d_l)):
        out.update({f"{name}.{k}": v.clone() for k, v in module.state_dict().items()})
    return out


def test_train_save_reload_enhance(folders, random_encoder, tmp_path: Path) -> None:
    low, high = folders
    model_path, state_path = tmp_path / "m.safetensors", tmp_path / "m.state.safetensors"
    progress, previews = [], []
    trainer = Trainer(tiny_config(low, high, steps=2, preview_every=1), random_encoder,
                      model_path, state_path)
    result = trainer.run(on_progress=progress.append, on_preview=lambda s, im: previews.append(im))
    assert result.steps == 2 and [p.step for p in progress] == [1, 2]
    assert set(progress[0].losses) >= {"loss_g", "adv_h", "adv_l", "cycle", "loss_d_h", "loss_d_l"}
    assert len(previews) == 2 and previews[0].dim() == 3

    info = read_model_info(model_path)
    assert info["format"] == "qagan-model"
    assert info["encoder"]["kind"] == "random" and info["training"]["random_encoder"] is True
    assert info["training"]["steps"] == 2 and info["training"]["n_low"] == 3
    assert read_model_info(state_path)["format"] == "qagan-training-state"

    model = load_model(model_path)
    x = torch.rand(2, 3, 24, 40)
    y = enhance(x, model)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
    with torch.no_grad():
        expected = trainer.export_model().enhance_tensor(x[:1]).clamp(0, 1)
    assert torch.allclose(y[:1], expected, atol=1e-5)
    assert torch.allclose(enhance(x, model, strength=0.0), x)
    # a training state also loads as a model (its generators)
    assert torch.allclose(enhance(x, load_model(state_path)), y, atol=1e-6)


@pytest.mark.parametrize("extras", [{}, {"history_size": 3, "lambda_idt": 1.0}, {"head_objective": "colors"}])
def test_resume_gives_the_same_weights(folders, random_encoder, tmp_path: Path, extras: dict) -> None:
    low, high = folders
    straight = Trainer(tiny_config(low, high, steps=4, batch_size=2, **extras), random_encoder)
    for _ in range(4):
        straight.train_step()

    first = Trainer(tiny_config(low, high, steps=4, batch_size=2, **extras), random_encoder)
    first.train_step()
    first.train_step()
    first.save_state(tmp_path / "half.safetensors")
    resumed = Trainer.resume(tmp_path / "half.safetensors", encoder=random_encoder)
    assert resumed.step == 2 and resumed.total_steps == 4
    resumed.train_step()
    resumed.train_step()

    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-5), key
    assert [h["loss_g"] for h in straight.history] == pytest.approx([h["loss_g"] for h in resumed.history])


def test_identity_loss_enters_the_generator_update(folders, random_encoder) -> None:
    """Same seed, same batches: only lambda_idt differs, so any difference in G_H's weights after
    the second step (the first starts at the identity, where the loss and its gradient are 0)
    comes from the identity loss reaching the optimiser."""
    low, high = folders
    weights = []
    for lambda_idt in (0.0, 0.5):
        trainer = Trainer(tiny_config(low, high, steps=3, batch_size=2, lambda_idt=lambda_idt,
                                      color_steps=0), random_encoder)
        trainer.train_step()
        losses = trainer.train_step()
        weights.append(torch.cat([p.detach().flatten() for p in trainer.model.g_h.parameters()]))
    assert losses["identity"] > 0
    assert not torch.allclose(weights[0], weights[1])


def test_adversarial_weight_enters_the_generator_update(folders, random_encoder) -> None:
    """Same seed, same batches: only lambda_adv differs. Adam does not see a common scale of the
    loss, so the weights differ only if lambda_adv changes the adversarial terms against the cycle
    term, i.e. reaches the generator update."""
    low, high = folders
    weights = []
    for lambda_adv in (1.0, 0.2):
        trainer = Trainer(tiny_config(low, high, steps=3, batch_size=2, lambda_adv=lambda_adv,
                                      lambda_idt=0.0, color_steps=0), random_encoder)
        trainer.train_step()
        trainer.train_step()
        weights.append(torch.cat([p.detach().flatten() for p in trainer.model.g_h.parameters()]))
    assert not torch.allclose(weights[0], weights[1])


def test_unet_mean_penalty_holds_the_residual_mean(folders, random_encoder) -> None:
    """Same seed, same batches: only lambda_unet_mean differs. The logged ``unet_mean`` is the
    mean absolute per-crop, per-channel mean of G_H(I_L) minus its global head's output; the
    penalty keeps it smaller (the first step starts at a zero residual, where it is 0)."""
    low, high = folders
    means = []
    for weight in (0.0, 1000.0):
        trainer = Trainer(tiny_config(low, high, steps=8, batch_size=2, lambda_unet_mean=weight),
                          random_encoder)
        logged = [trainer.train_step()["unet_mean"] for _ in range(6)]
        assert logged[0] == 0.0
        means.append(sum(logged[2:]))
    assert means[0] > 0
    assert means[1] < 0.5 * means[0]


def test_states_saved_before_the_adversarial_weight_resume_with_the_papers() -> None:
    from qagan_core import TrainConfig

    old = {k: v for k, v in TrainConfig().to_dict().items() if k != "lambda_adv"}
    assert TrainConfig().lambda_adv < 1.0
    assert TrainConfig.from_dict(old).lambda_adv == 1.0


def test_states_saved_before_the_unet_mean_penalty_resume_without_it() -> None:
    from qagan_core import TrainConfig

    old = {k: v for k, v in TrainConfig().to_dict().items() if k != "lambda_unet_mean"}
    assert TrainConfig().lambda_unet_mean > 0
    assert TrainConfig.from_dict(old).lambda_unet_mean == 0.0


def test_states_saved_before_the_identity_loss_resume_without_it() -> None:
    from qagan_core import TrainConfig

    old = {k: v for k, v in TrainConfig().to_dict().items() if k not in ("lambda_idt", "history_size")}
    assert TrainConfig().lambda_idt > 0
    assert TrainConfig.from_dict(old).lambda_idt == 0.0
    assert TrainConfig.from_dict({**old, "lambda_idt": 0.5}).lambda_idt == 0.5


def test_nan_stops_training_and_keeps_last_good_checkpoint(folders, random_encoder, tmp_path: Path) -> None:
    low, high = folders
    state_path = tmp_path / "s.safetensors"
    trainer = Trainer(tiny_config(low, high, steps=3, save_every=1), random_encoder,
                      tmp_path / "m.safetensors", state_path)
    trainer.train_step()
    trainer.save()
    good = state_path.read_bytes()
    with torch.no_grad():
        trainer.model.g_h.to_rgb[1].weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match=r"diverged at step 2.*last good checkpoint"):
        trainer.run()
    assert state_path.read_bytes() == good
    assert read_model_info(tmp_path / "m.safetensors")["training"]["steps"] == 1


def test_cancel_saves_and_requeue_resumes(folders, random_encoder, tmp_path: Path) -> None:
    low, high = folders
    state_path = tmp_path / "s.safetensors"
    trainer = Trainer(tiny_config(low, high, steps=2), random_encoder, None, state_path)
    with pytest.raises(Cancelled, match=r"step 1/2.*saved"):
        trainer.run(should_stop=lambda: trainer.step >= 1)
    resumed = Trainer.resume(state_path, encoder=random_encoder)
    assert resumed.step == 1
    assert resumed.run().steps == 2


def test_schedule_constant_then_linear_decay(folders, random_encoder) -> None:
    """The rates the optimizers actually used, step by step (G, D and the colour head)."""
    assert [lr_factor(s, 8) for s in range(8)] == [1, 1, 1, 1, 1.0, 0.75, 0.5, 0.25]
    low, high = folders
    trainer = Trainer(tiny_config(low, high, steps=6, lr_g=2e-4, lr_d=1e-4, color_steps=1),
                      random_encoder)
    used = []
    for _ in range(6):
        trainer.train_step()
        used.append((trainer.opt_g.param_groups[0]["lr"], trainer.opt_d.param_groups[0]["lr"],
                     trainer.color.optimizer.param_groups[0]["lr"]))
    factors = [1, 1, 1, 1, 2 / 3, 1 / 3]
    expected = [(2e-4 * f, 1e-4 * f, 1e-3 * f) for f in factors]
    assert [x for row in used for x in row] == pytest.approx([x for row in expected for x in row])


def test_invalid_settings_are_clear(folders) -> None:
    low, high = folders
    for bad, message in (({"lambda_idt": -1.0}, "lambda_idt"), ({"history_size": -2}, "history_size"),
                         ({"lambda_adv": 0.0}, "lambda_adv")):
        with pytest.raises(QAGANError, match=message):
            Trainer(tiny_config(low, high, **bad))
    with pytest.raises(QAGANError, match="train_size must be a multiple of 16"):
        Trainer(tiny_config(low, high, train_size=30, crop_size=30))


def test_epochs_define_steps(folders, random_encoder) -> None:
    low, high = folders
    trainer = Trainer(tiny_config(low, high, steps=None, epochs=3, batch_size=2), random_encoder)
    assert trainer.total_steps == 3 * 2  # ceil(3 images / batch 2) per epoch


def test_out_of_memory_is_a_clear_error(folders, random_encoder, tmp_path: Path, monkeypatch) -> None:
    low, high = folders
    state_path = tmp_path / "s.safetensors"
    trainer = Trainer(tiny_config(low, high, steps=3, batch_size=2), random_encoder, None, state_path)
    trainer.train_step()
    trainer.save()
    saved = state_path.read_bytes()

    def no_memory() -> dict:
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(trainer, "train_step", no_memory)
    with pytest.raises(QAGANError, match=r"out of memory at training step 2 .*batch size 2.*kept at"):
        trainer.run()
    assert state_path.read_bytes() == saved


def test_training_and_resume_leave_the_global_rng_alone(folders, random_encoder, tmp_path: Path) -> None:
    """The host's torch RNG (ComfyUI's samplers, other nodes) is neither reseeded nor restored."""
    low, high = folders
    torch.manual_seed(1234)
    expected = torch.get_rng_state()
    trainer = Trainer(tiny_config(low, high, steps=2, color_steps=1), random_encoder)
    trainer.train_step()
    trainer.save_state(tmp_path / "s.safetensors")
    assert torch.equal(torch.get_rng_state(), expected)
    torch.manual_seed(99)
    expected = torch.get_rng_state()
    Trainer.resume(tmp_path / "s.safetensors", encoder=random_encoder).train_step()
    assert torch.equal(torch.get_rng_state(), expected)


def test_mixed_precision_state_resumes_with_its_scaler(folders, random_encoder, tmp_path: Path) -> None:
    """The gradient scaler's whole state (scale and growth tracker) is saved and restored;
    resuming with it does not crash. Run with the CPU scaler (no GPU here)."""
    low, high = folders

    def with_cpu_scaler(trainer: Trainer) -> Trainer:
        trainer.use_amp = True
        trainer.scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=3)
        return trainer

    first = with_cpu_scaler(Trainer(tiny_config(low, high, steps=4), random_encoder))
    first.train_step()
    first.train_step()
    first.save_state(tmp_path / "amp.safetensors")
    expected = first.scaler.state_dict()
    assert expected["_growth_tracker"] == 2

    second = with_cpu_scaler(Trainer(tiny_config(low, high, steps=4), random_encoder))
    second.load_state(tmp_path / "amp.safetensors")
    assert second.scaler.state_dict() == expected
    second.train_step()  # the third step: the scale grows, as it would have without the resume
    first.train_step()
    assert second.scaler.get_scale() == first.scaler.get_scale() == 2048.0


def test_a_batch_larger_than_the_folders_is_warned_about(folders, random_encoder, caplog) -> None:
    low, high = folders  # 3 photos each
    Trainer(tiny_config(low, high, batch_size=3), random_encoder)
    assert "larger than the folders" not in caplog.text
    Trainer(tiny_config(low, high, batch_size=12), random_encoder)
    assert "batch size 12 is larger than the folders (3 low, 3 high photos)" in caplog.text
