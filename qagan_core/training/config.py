"""Training settings; the defaults are the paper's (§4.2)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ..model.config import ModelConfig

PAIR_OBJECTIVES = ("pairs", "quantile_pairs")  # regression of the head on degraded pairs
HEAD_OBJECTIVES = (*PAIR_OBJECTIVES, "colors")
EXPORTS = ("average", "best", "last")


@dataclass
class TrainConfig:
    """Everything a training run needs; all fields are JSON-serialisable.

    Paper §4.2: Adam(lr 1e-4, betas 0.5/0.999) for G and D, batch 12, 150
    epochs with the learning rate constant for the first half and decayed
    linearly to zero over the second, 256 crops resized to 128, lambda_cc = 2.
    Not in the paper: ``lambda_idt`` weighs an identity loss (G_H keeps a
    high-quality photo, G_L a low-quality one, L1); on by default (5.0): it
    keeps the adversarially trained U-Net of G_H from drifting away early in a
    run (the transient measured in BENCHMARKS.md, "Learning the look"); 0 is the
    paper's setting. ``history_size`` > 0 shows the discriminators generated images
    from a history buffer of that many (half of each batch, as in CycleGAN);
    off, as measured.
    ``lambda_adv`` weighs the generators' adversarial terms (eq. 9 has 1, the paper
    preset's): 0.05 by default, so that the U-Net of G_H is held by its paired
    signals (identity, cycle) for the whole run and not only its first ~150
    steps (the late drift, BENCHMARKS.md "A weaker adversarial pull"). With Adam,
    dividing it by k is the same as multiplying every other term by k.
    ``lambda_unet_mean`` weighs the mean absolute per-crop, per-channel mean of
    the U-Net's residual in G_H(I_L) (the part of the output not made by the
    global head): 10 by default, so that global tone is left to the head and the
    U-Net does not shift a whole photo's colour (its late drift was mostly such
    a shift, BENCHMARKS.md "The U-Net's residual is a global offset"); 0 leaves
    the U-Net free, as in the paper.
    Also not in the paper (additions, each measured in BENCHMARKS.md):
    ``color_steps`` updates per step of G_H's global head by its own objective
    (``training/color.py``, learning rate ``lr_color``); 0 trains the head with
    the rest of G_H. ``head_objective``: ``pairs`` (regression on pairs made
    with a degradation learned from the two folders), ``quantile_pairs`` (pairs
    made by quantile transfer with a share of each low photo's own defects,
    ``quantiles.py``; the ``fixes`` preset) or ``colors`` (the colour
    distribution term, ``color_batch`` thumbnails per update);
    ``head_weight_decay``: decoupled weight decay (AdamW) on the head's updates; 0 by default,
    1.0 in the ``fixes`` preset: with a few dozen contents the head learns to recognise each
    training photo and falls on new ones as updates accumulate (BENCHMARKS.md, "The fixes
    preset with weight decay on the head").
    ``head_updates``: the head's updates over the whole run, ``color_steps`` per step until
    that many are made, its learning rate decaying over them as the run's does over its steps
    (or with the run, if that ends first); the head is then fixed while the rest trains on.
    0 (the default): ``color_steps`` at every step. 2128 in the ``fixes`` preset (133 steps,
    what the 15-minute CPU budget gives): more updates did not help its head and lost up to
    0.26 dB at 4x the budget (BENCHMARKS.md, "An update budget for the fixes preset's head").
    ``head_generic_defects`` (with ``quantile_pairs``): the share of the degraded photos that
    also get a random global defect of fixed strengths (``quantiles.generic_defect``), a prior
    for per-photo defects that the folders' statistics cannot see at a few dozen photos; 0 by
    default, 0.5 in the ``fixes`` preset (BENCHMARKS.md, "Generic defects").
    ``degradation_updates``: updates fitting the degradation of ``pairs``;
    ``degradation_fits``: how many such fits it is the mean of.
    ``degraded_identity`` (with either pair objective): G_H's identity term gets the high
    crop degraded by the objective's degradation and must give back the crop (a
    plain identity term teaches G_H's U-Net to undo what the head adds to a
    photo that already has the look).
    ``export``: which generators the model file gets: ``average`` (their weights
    averaged over the second half of the run, while the learning rate decays; with
    ``head_updates``, over the steps of it after the head's last update),
    ``best`` (those best by the no-reference validation criterion, checked 20
    times over the run) or ``last``. ``minutes``: train for this
    long (the learning rate decays over the time instead of the steps);
    overrides ``steps`` and ``epochs``.
    ``preset_settings("paper")`` turns every addition off.
    An epoch is ceil(max(#low, #high) / batch_size) steps. ``steps`` overrides
    ``epochs`` when set.
    ``batch_size`` is the global batch: under torchrun each of W processes trains
    on batch_size / W of it, so the settings (and the steps of an epoch) do not
    depend on the number of processes. ``workers``: DataLoader worker processes
    per training process (0: batches are prepared in the training process); how
    a launch loads its data, so not saved in a training state.
    """

    low_dir: str = ""
    high_dir: str = ""
    steps: int | None = None
    epochs: int = 150
    batch_size: int = 12
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_cc: float = 2.0
    lambda_adv: float = 0.05
    lambda_idt: float = 5.0
    lambda_unet_mean: float = 10.0
    history_size: int = 0
    color_steps: int = 16
    lr_color: float = 1e-3
    head_weight_decay: float = 0.0
    head_updates: int = 0
    head_generic_defects: float = 0.0
    color_batch: int = 16
    head_objective: str = "pairs"
    degradation_updates: int = 200
    degradation_fits: int = 8
    degraded_identity: bool = True
    export: str = "average"
    minutes: float | None = None
    load_size: int = 512
    crop_size: int = 256
    train_size: int = 128
    flip: bool = True
    seed: int = 0
    encoder_weights: str = "pretrained"
    models_dir: str | None = None
    device: str = "auto"
    amp: bool = False
    preview_every: int = 0
    save_every: int = 0
    workers: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)

    def total_steps(self, n_low: int, n_high: int) -> int:
        if self.steps is not None:
            return int(self.steps)
        per_epoch = math.ceil(max(n_low, n_high) / self.batch_size)
        return int(self.epochs * per_epoch)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["model"] = self.model.to_dict()
        del data["workers"]  # a property of the launch, not of the training
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        # Settings added later: a saved state without them was trained without them.
        data = {"lambda_idt": 0.0, "lambda_adv": 1.0, "history_size": 0, "color_steps": 0,
                "select_best": False, "head_objective": "colors", "degraded_identity": False,
                "degradation_fits": 1, "lambda_unet_mean": 0.0, **data}
        if "export" not in data:  # before the export rule, best-by-validation was a switch
            data["export"] = "best" if data["select_best"] else "last"
        model = ModelConfig.from_dict(data.pop("model")) if "model" in data else ModelConfig()
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(model=model, **{k: v for k, v in data.items() if k in known})

    def validate(self) -> None:
        from ..errors import QAGANError

        checks = [
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (self.steps is None or self.steps >= 1, "steps must be at least 1"),
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.lr_g > 0 and self.lr_d > 0, "learning rates must be positive"),
            (self.lambda_cc >= 0, "lambda_cc must be >= 0"),
            (self.lambda_adv > 0, "lambda_adv must be positive"),
            (self.lambda_idt >= 0, "lambda_idt must be >= 0"),
            (self.lambda_unet_mean >= 0, "lambda_unet_mean must be >= 0"),
            (self.history_size >= 0, "history_size must be >= 0"),
            (self.color_steps >= 0, "color_steps must be >= 0"),
            (self.lr_color > 0, "lr_color must be positive"),
            (self.head_weight_decay >= 0, "head_weight_decay must be >= 0"),
            (self.head_updates >= 0, "head_updates must be >= 0"),
            (0 <= self.head_generic_defects <= 1, "head_generic_defects must be from 0 to 1"),
            (not self.head_generic_defects or self.head_objective == "quantile_pairs",
             "head_generic_defects needs head_objective quantile_pairs"),
            (self.color_batch >= 1, "color_batch must be at least 1"),
            (self.degradation_updates >= 1, "degradation_updates must be at least 1"),
            (self.degradation_fits >= 1, "degradation_fits must be at least 1"),
            (self.export in EXPORTS, f"export must be one of {', '.join(EXPORTS)}"),
            (self.head_objective in HEAD_OBJECTIVES,
             f"head_objective must be one of {', '.join(HEAD_OBJECTIVES)}"),
            (self.workers >= 0, "workers must be >= 0"),
            (self.minutes is None or self.minutes > 0, "minutes must be positive"),
            (self.train_size >= 16 and self.train_size % 16 == 0,
             "train_size must be a multiple of 16 (at least 16)"),
            (self.crop_size >= self.train_size, "crop_size must be >= train_size"),
            (self.load_size >= self.crop_size, "load_size must be >= crop_size"),
        ]
        for ok, message in checks:
            if not ok:
                raise QAGANError(f"invalid training settings: {message}")


def lr_factor(step: int, total: int) -> float:
    """Constant for the first half of training, then linear decay to zero (§4.2)."""
    half = total // 2
    if step < half:
        return 1.0
    return max(0.0, (total - step) / max(1, total - half))


def lr_factor_at(fraction: float) -> float:
    """``lr_factor`` for a time budget: constant for the first half of the time, then linear to zero."""
    return 1.0 if fraction < 0.5 else max(0.0, (1.0 - fraction) / 0.5)


PRESETS = ("default", "fixes", "paper")


def preset_settings(name: str) -> dict:
    """TrainConfig settings of a preset. ``default``: for a high folder that carries a look
    (one grade the low photos lack). ``fixes``: for a low folder whose photos each have their
    own defects (haze, a cast, an exposure error) and a high folder of well-made photos: the
    head learns from quantile-transfer pairs, half of them with a generic defect, with weight
    decay and a budget of updates, and sees the thumbnail's pixel statistics (BENCHMARKS.md,
    "The fixes preset", "Generic defects"). ``paper``: the
    paper's method and §4.2 settings with every addition off (global head, colour term,
    identity loss, weaker adversarial terms, best-model selection or averaging) and the QAM
    exactly as eqs. 2 and 5. Kept where the paper is silent: residual outputs and spectral
    normalisation in D (docs/architecture.md)."""
    if name == "default":
        return {}
    if name == "fixes":
        return {"head_objective": "quantile_pairs", "head_weight_decay": 1.0, "head_updates": 2128,
                "head_generic_defects": 0.5, "model": ModelConfig(curve_pixel_stats=True)}
    if name == "paper":
        return {"lambda_idt": 0.0, "lambda_adv": 1.0, "lambda_unet_mean": 0.0, "history_size": 0,
                "color_steps": 0, "export": "last",
                "model": ModelConfig(global_curve=False, qam_residual=False)}
    raise ValueError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")


def budget_sizes(device_type: str) -> dict:
    """Batch and sizes a time budget trains with when the user sets none: on a CPU the
    sizes BENCHMARKS.md measured for the CPU budget, elsewhere the paper's."""
    if device_type == "cpu":
        return {"batch_size": 4, "crop_size": 256, "train_size": 64}
    return {}
