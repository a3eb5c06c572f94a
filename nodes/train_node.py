"""QAGAN Train (unpaired): train a model from two folders inside ComfyUI."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch

from ..qagan_core import (
    PRESETS,
    QAGAN,
    Cancelled,
    EncoderWeightsMissing,
    Progress,
    QAGANError,
    TrainConfig,
    Trainer,
    find_resume_state,
    loss_curve_image,
    read_model_info,
    state_path_for,
)
from ..qagan_core.images import tensor_to_pil
from ..qagan_core.progress import format_duration
from ..qagan_core.training import budget_sizes, preset_settings
from . import comfy_env, common, tensors
from .common import CATEGORY, ENCODER_PRETRAINED, MODEL_TYPE

log = logging.getLogger("qagan")

RESUME_AUTO = "auto (continue this model's saved state if any)"
RESUME_NONE = "start over"
PREVIEW_MAX_SIDE = 512
STATUS_EVERY_S = 1.0  # how often the node's status text is refreshed


TOOLTIPS = {
    "low_quality_folder": "Folder (in ComfyUI's input directory) of photos to improve.",
    "high_quality_folder": "Folder (in ComfyUI's input directory) of photos with the target look; "
    "they need not show the same scenes.",
    "model_name": "Name of the model in models/qagan: name.safetensors, with its training state "
    "in name.state.safetensors.",
    "steps": "Training steps; 0 = use epochs instead. Ignored when minutes is set.",
    "minutes": "Train for this many minutes (0 = use steps or epochs). On a CPU a time budget "
    "trains with batch 4 and 256 px crops resized to 64 px (batch_size, crop_size and train_size "
    "then apply only on a GPU); the learning rate decays over the second half of the time. "
    "15 min on a 2-core CPU learns a colour look (BENCHMARKS.md).",
    "preset": "default: learn the look the high folder carries (the measured best settings); fixes: "
    "the low photos each have their own defects (haze, colour casts, exposure) and the high folder "
    "holds well-made photos; paper: the paper's method and settings exactly "
    "(no global colour head, no identity loss, adversarial weight 1, the last generators exported).",
    "epochs": "Passes over the larger folder; used only when steps is 0 (the paper trains 150).",
    "batch_size": "Photo pairs per step (the paper uses 12; lower it if memory runs out).",
    "learning_rate": "Adam learning rate of generators and discriminators; decays linearly to 0 "
    "over the second half of training.",
    "lambda_cc": "Weight of the cycle-consistency loss (the paper uses 2).",
    "crop_size": "Size of the random square crops taken from each photo.",
    "train_size": "Crops are resized to this size for training (multiple of 16, at most crop_size).",
    "seed": "Random seed for initialisation and sampling.",
    "save_every": "Save model and training state every this many steps (0 = only at the end and "
    "on Cancel).",
    "preview_every": "Show a fixed low-quality photo enhanced by the current model every this many "
    "steps (0 = never).",
    "encoder": "VGG-19 encoder weights: torchvision's standard weights (downloaded once, or "
    "vgg19-dcbb9e9d.pth placed in models/qagan), a vgg*.pth/.safetensors file in models/qagan, "
    "or a random encoder for testing only.",
    "resume": "auto: continue from models/qagan/<model_name>.state.safetensors when it exists; "
    "start over: new training (the model it replaces is kept as <model_name>.previous.safetensors); "
    "or continue from a chosen training state. On resume the saved encoder and seed are kept.",
}


def _tip(name: str, **options: Any) -> dict[str, Any]:
    return {**options, "tooltip": TOOLTIPS[name]}


def resume_choices() -> list[str]:
    states = [n for n in comfy_env.model_names() if n.endswith(".state.safetensors")]
    return [RESUME_AUTO, RESUME_NONE, *states]


class _Reporter:
    """Progress bar, previews, a status text on the node, and Cancel for one training run.

    ComfyUI's progress hook raises when Cancel was pressed; the reporter checks
    for Cancel first and turns it into ``should_stop``, so the trainer saves its
    state before stopping. The status text gives the measured time per step and the
    time left from the first step on, and says what was saved when training ends.
    """

    def __init__(self, start: int, total: int, node_id: str | None) -> None:
        self.total = max(1, total)  # a time budget starts with no estimate (0)
        self.pbar = comfy_env.progress_bar(self.total)
        self.node_id = node_id
        self.stop = False
        self.start_step, self.step = start, start
        self.started = time.monotonic()
        self.shown = -STATUS_EVERY_S
        self._update(start, None)

    def _update(self, step: int, preview: Any) -> None:
        if self.should_stop():
            return
        try:
            self.pbar.update_absolute(step, self.total, preview)
        except Exception as exc:
            if not comfy_env.is_interrupt_error(exc):
                raise
            self.stop = True

    def on_progress(self, p: Progress) -> None:
        self.total = max(1, p.total)  # a time budget's estimate changes
        self.step = p.step
        self._update(p.step, None)
        now = time.monotonic()
        if now - self.shown >= STATUS_EVERY_S or p.step >= self.total:
            self.shown = now
            self.show(self.running_text(now))

    def on_preview(self, step: int, image: torch.Tensor) -> None:
        self._update(step, ("JPEG", tensor_to_pil(image), PREVIEW_MAX_SIDE))

    def should_stop(self) -> bool:
        self.stop = self.stop or comfy_env.interrupted()
        return self.stop

    def running_text(self, now: float) -> str:
        done = self.step - self.start_step
        if done <= 0:
            return f"step {self.step}/{self.total}: starting"
        per_step = (now - self.started) / done
        left = per_step * max(0, self.total - self.step)
        return (f"step {self.step}/{self.total} · {per_step:.2f} s/step · "
                f"about {format_duration(left)} left")

    def show(self, text: str) -> None:
        comfy_env.show_text(self.node_id, text)

    def elapsed(self) -> str:
        return format_duration(time.monotonic() - self.started)


def _nothing_left_text(trainer: Trainer, model_path: Path) -> str:
    """What a resumed training that is already at its target says instead of training again."""
    name = model_path.name[: -len(".safetensors")]
    cfg = trainer.config
    if trainer.budget_s:
        return (f"nothing left to train: {name} has already trained "
                f"{format_duration(trainer.elapsed_s)} of {format_duration(trainer.budget_s)} "
                f"(step {trainer.step}); raise minutes to train more")
    setting = "steps" if cfg.steps else "epochs (or steps)"
    return (f"nothing left to train: {name} is already at step {trainer.step} of "
            f"{trainer.total_steps}; raise {setting} or set minutes to train more")


def _keep_previous(model_path: Path, state_path: Path) -> None:
    """Choosing "start over" keeps the replaced model as NAME.previous.safetensors (and its state), so
    queueing the same prompt again by accident does not destroy the last training."""
    stem = model_path.name[: -len(".safetensors")]
    for path in (model_path, state_path):
        if path.is_file():
            target = path.with_name(stem + ".previous" + path.name[len(stem):])
            path.replace(target)
            log.warning("start over: the previous %s is kept as %s", path.name, target.name)


def _plottable(losses: list[float]) -> list[float]:
    """ComfyUI's Plot Loss Graph divides by (max - min) of at least two values: a one-step
    history is given twice, and equal values get the last one nudged by a millionth (invisible)."""
    losses = (losses or [0.0]) * (2 if len(losses) < 2 else 1)
    if max(losses) == min(losses):
        losses[-1] += 1e-6 * max(1.0, abs(losses[-1]))
    return losses


def _check_resume_encoder(choice: str, state_path: Path) -> None:
    """A resumed training keeps its encoder: refuse, naming both, when the input says otherwise."""
    saved = read_model_info(state_path)["encoder"]
    wanted = common.encoder_weights(choice)
    same = saved.get("kind") == wanted or (
        saved.get("kind") == "file" and Path(wanted).name == saved.get("source"))
    if not same:
        raise QAGANError(
            f"{state_path.name} was trained with the {saved.get('kind')} encoder "
            f"({saved.get('source')}), but the encoder input says {choice!r}: set the encoder to "
            f"match to continue that training, or set resume to {RESUME_NONE!r} to train anew"
        )


class QAGANTrain:
    DESCRIPTION = (
        "Teach QAGAN a look from two unpaired folders of photos in ComfyUI's input directory: "
        "low-quality photos and high-quality photos of the look you want. Saves the model and "
        "its training state to models/qagan every save interval and on Cancel; queue again to "
        "resume. Outputs the model, a loss-curve image and the loss history for ComfyUI's "
        "Plot Loss Graph node."
    )
    CATEGORY = CATEGORY
    RETURN_TYPES = (MODEL_TYPE, "IMAGE", "LOSS_MAP")
    RETURN_NAMES = ("model", "loss_curve", "loss")
    OUTPUT_TOOLTIPS = (
        "The trained enhancement model.",
        "Generator, discriminator and cycle losses per step.",
        "Generator loss per step, for Plot Loss Graph.",
    )
    FUNCTION = "train"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        folders = common.input_subfolders()
        return {
            "required": {
                "low_quality_folder": (folders, _tip("low_quality_folder")),
                "high_quality_folder": (folders, _tip("high_quality_folder")),
                "model_name": ("STRING", _tip("model_name", default="my_look")),
                "steps": ("INT", _tip("steps", default=2000, min=0, max=10_000_000)),
                "epochs": ("INT", _tip("epochs", default=150, min=1, max=100_000)),
                "batch_size": ("INT", _tip("batch_size", default=4, min=1, max=256)),
                "learning_rate": (
                    "FLOAT", _tip("learning_rate", default=1e-4, min=1e-7, max=1e-2, step=1e-5, round=False),
                ),
                "lambda_cc": ("FLOAT", _tip("lambda_cc", default=2.0, min=0.0, max=100.0, step=0.1)),
                "crop_size": ("INT", _tip("crop_size", default=256, min=16, max=4096, step=16)),
                "train_size": ("INT", _tip("train_size", default=128, min=16, max=1024, step=16)),
                "seed": ("INT", _tip("seed", default=0, min=0, max=2**31 - 1, control_after_generate=False)),
                "save_every": ("INT", _tip("save_every", default=200, min=0, max=1_000_000)),
                "preview_every": ("INT", _tip("preview_every", default=50, min=0, max=1_000_000)),
                "encoder": (common.encoder_choices(), _tip("encoder", default=ENCODER_PRETRAINED)),
                "resume": (resume_choices(), _tip("resume", default=RESUME_AUTO)),
            },
            "optional": {
                "minutes": ("FLOAT", _tip("minutes", default=0.0, min=0.0, max=100_000.0, step=1.0)),
                "preset": (list(PRESETS), _tip("preset", default="default")),
            },
            "hidden": {"unique_id": "UNIQUE_ID"},
        }

    @classmethod
    def IS_CHANGED(cls, **_kwargs: Any) -> float:
        return float("nan")  # training is not idempotent: run again every time it is queued

    def train(
        self, low_quality_folder: str, high_quality_folder: str, model_name: str = "my_look",
        steps: int = 2000, epochs: int = 150, batch_size: int = 4, learning_rate: float = 1e-4,
        lambda_cc: float = 2.0, crop_size: int = 256, train_size: int = 128, seed: int = 0,
        save_every: int = 200, preview_every: int = 50, encoder: str = ENCODER_PRETRAINED,
        resume: str = RESUME_AUTO, minutes: float = 0.0, preset: str = "default",
        unique_id: str | None = None,
    ) -> tuple[QAGAN, torch.Tensor, dict[str, list[float]]]:
        model_path = comfy_env.model_dir() / common.model_file_name(model_name)
        state_path = state_path_for(model_path)
        settings = {
            "low_dir": str(common.input_folder(low_quality_folder)),
            "high_dir": str(common.input_folder(high_quality_folder)),
            "steps": int(steps) if steps > 0 else None,
            "epochs": int(epochs),
            "batch_size": int(batch_size),
            "lr_g": float(learning_rate),
            "lr_d": float(learning_rate),
            "lambda_cc": float(lambda_cc),
            "load_size": max(512, int(crop_size)),
            "crop_size": int(crop_size),
            "train_size": int(train_size),
            "save_every": int(save_every),
            "preview_every": int(preview_every),
            "models_dir": str(comfy_env.model_dir()),
            "device": str(comfy_env.device()),
        }
        if minutes > 0:
            settings.update(steps=None, minutes=float(minutes),
                            **budget_sizes(comfy_env.device().type))
        resume_from = self._resume_path(resume, model_path)
        # ComfyUI runs nodes under torch.inference_mode(); training needs autograd.
        with torch.inference_mode(False), torch.enable_grad():
            if resume_from is not None:
                _check_resume_encoder(encoder, resume_from)
                trainer = Trainer.resume(resume_from, settings, model_path=model_path, state_path=state_path)
            else:
                weights = common.encoder_weights(encoder)
                config = TrainConfig(seed=int(seed), encoder_weights=weights,
                                     **{**preset_settings(preset), **settings})
                try:
                    trainer = Trainer(config, model_path=model_path, state_path=state_path)
                except EncoderWeightsMissing as exc:
                    raise EncoderWeightsMissing(
                        f"{exc}; then queue again (or, to try the node without them, choose the "
                        f"encoder {common.ENCODER_RANDOM!r}: for testing only)") from None
            if resume == RESUME_NONE:  # only now: a start that fails leaves the model in place
                _keep_previous(model_path, state_path)
            log.info("%s", trainer.describe())
            nothing_left = _nothing_left_text(trainer, model_path) if trainer.finished() else None
            if nothing_left:
                log.warning("%s", nothing_left)
            reporter = _Reporter(trainer.step, trainer.total_steps, unique_id)
            try:
                result = trainer.run(reporter.on_progress, reporter.on_preview, reporter.should_stop)
            except Cancelled:
                if reporter.stop:
                    reporter.show(f"cancelled at step {trainer.step} after {reporter.elapsed()}; "
                                  f"saved {model_path.name} and its training state: queue again "
                                  "with resume 'auto' to continue")
                    log.info("training cancelled at step %d; saved %s", trainer.step, model_path)
                    raise comfy_env.interrupt_error() from None
                raise
            reporter.show(nothing_left or f"done: step {trainer.step} in {reporter.elapsed()}; saved "
                                          f"models/qagan/{model_path.name}")
            log.info("training done at step %d; the model is %s", trainer.step, trainer.exported())
            model = trainer.export_model()
        curve = tensors.to_comfy(loss_curve_image(result.history))
        loss_map = {"loss": _plottable([float(h["loss_g"]) for h in result.history])}
        return (model, curve, loss_map)

    @staticmethod
    def _resume_path(resume: str, model_path: Path) -> Path | None:
        if resume == RESUME_AUTO:
            return find_resume_state(model_path)
        if resume == RESUME_NONE:
            return None
        return comfy_env.model_path(resume)
