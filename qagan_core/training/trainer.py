"""The QAGAN training engine (paper §3.3 losses, §4.2 schedule).

One step, for a batch of unpaired low (I_L) and high (I_H) quality crops:

    I~_H = G_H(I_L)             I~_L = G_L(I_H | I_L)       (I_L is G_L's QAM reference)
    I^_L = G_L(I~_H | I_L)      I^_H = G_H(I~_L)
    L_G  = lambda_adv (L_adv^H + L_adv^L) + lambda_cc (L_cc^L + L_cc^H)   (eq. 9, G side of eqs. 6-7;
           the paper has lambda_adv = 1)
           [+ lambda_idt (|G_H(I_H) - I_H|_1 + |G_L(I_L | I_L) - I_L|_1), not in the paper;
            with the "pairs" head objective G_H's input is I_H degraded by the learned degradation]
    L_D  = RaHinge(D_H; I_H, I~_H) + RaHinge(D_L; I_L, I~_L)   (eqs. 6-7)
           [I~ drawn from a history buffer when history_size > 0, not in the paper]

Not in the paper either (see TrainConfig): with ``color_steps`` > 0, G_H's
global colour head is trained only by the colour-distribution term
(``color.py``) and the losses above train the rest of G_H; ``export``
chooses the exported generators (averaged over the second half of the run, or
best by a no-reference criterion); ``minutes`` trains for a time budget.

The encoder is frozen; G and D are updated with Adam, alternately.

Under torchrun (``distributed``, see ``qagan_core/distributed.py``) G_H, G_L,
D_H and D_L are wrapped in DistributedDataParallel (E stays frozen and
unwrapped), each process trains on its share of the global batch
(``loader.py``) and the relativistic averages of eqs. 6-7 are taken over the
global batch, so the averaged gradients are those of one process holding the
whole batch. The colour head's updates run identically on every process (same
thumbnails, same seed) and rank 0's head is broadcast after them. Only rank 0
writes files; every process stops at the same step.
"""

from __future__ import annotations

import copy
import datetime as _dt
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..checkpoints import (
    TrainingState,
    encoder_for,
    identity_dict,
    load_weights,
    read_training_state,
    save_model,
    save_training_state,
)
from ..devices import is_out_of_memory, pick_device
from ..distributed import Distributed
from ..encoder import VGGEncoder, resolve_encoder
from ..errors import Cancelled, QAGANError, TrainingDiverged
from ..model import (
    QAGAN,
    MultiScaleDiscriminator,
    cycle_loss,
    rahinge_d_loss,
    rahinge_g_loss,
)
from .color import ColorTraining, head_grad_norm
from .config import PAIR_OBJECTIVES, TrainConfig, lr_factor, lr_factor_at
from .data import ImageFolder, SampleSpec
from .history import ImageHistory
from .loader import StepBatches, StepLoader

log = logging.getLogger("qagan")

VALIDATIONS = 20  # times the no-reference criterion is computed over a run


@torch.no_grad()
def fold_into_mean(mean: dict[str, torch.Tensor], state: dict[str, torch.Tensor], n: int) -> None:
    """Update ``mean`` (a state dict's running mean over ``n - 1`` states; empty at first) to
    include ``state`` as the ``n``-th; integer entries keep their latest value."""
    for key, value in state.items():
        if key not in mean or not value.is_floating_point():
            mean[key] = value.detach().clone()
        else:
            mean[key] += (value.detach() - mean[key]) / n


@dataclass
class Progress:
    """What a progress callback receives after every step."""

    step: int
    total: int
    losses: dict[str, float]
    lr_g: float
    lr_d: float


@dataclass
class TrainResult:
    steps: int
    history: list[dict[str, float]] = field(default_factory=list)
    model_path: Path | None = None
    state_path: Path | None = None


class Trainer:
    """Trains QAGAN on two folders; resumable, cancellable, observable.

    ``model_path`` / ``state_path``: where the enhancement model and the
    training state are written at every ``save_every`` steps, at the end, and
    when the run is cancelled. Callbacks: ``on_progress(Progress)`` every step,
    ``on_preview(step, image)`` every ``preview_every`` steps with a fixed
    low-quality sample enhanced by the current G_H (on rank 0 only),
    ``should_stop()`` polled between steps (under torchrun: a stop on any process
    stops all of them at the same step). ``distributed``: this process's place
    under torchrun (``qagan_core.distributed.setup()``), None for one process.
    """

    def __init__(
        self,
        config: TrainConfig,
        encoder: VGGEncoder | None = None,
        model_path: str | Path | None = None,
        state_path: str | Path | None = None,
        distributed: Distributed | None = None,
    ) -> None:
        config.validate()
        self.config = config
        self.distributed = distributed
        rank, world = (distributed.rank, distributed.world_size) if distributed else (0, 1)
        if config.batch_size % world:
            raise QAGANError(f"the batch size {config.batch_size} is the global batch, shared by the "
                             f"{world} processes: make it a multiple of {world}")
        self.device = distributed.device if distributed else pick_device(config.device)
        self.model_path = Path(model_path) if model_path else None
        self.state_path = Path(state_path) if state_path else None
        spec = SampleSpec(config.load_size, config.crop_size, config.train_size, config.flip)
        self.low = ImageFolder(Path(config.low_dir), spec)
        self.high = ImageFolder(Path(config.high_dir), spec)
        largest = max(len(self.low), len(self.high))
        if config.batch_size > largest and self.is_main:
            log.warning("batch size %d is larger than the folders (%d low, %d high photos): every "
                        "batch repeats photos; a smaller batch trains as well, faster",
                        config.batch_size, len(self.low), len(self.high))
        self.budget_s = config.minutes * 60.0 if config.minutes else None
        self.elapsed_s = 0.0  # training time so far, across resumes
        self.total_steps = 0 if self.budget_s else config.total_steps(len(self.low), len(self.high))
        if encoder is None:
            encoder = resolve_encoder(config.encoder_weights, config.models_dir)
        if encoder.identity.is_random:
            log.warning(
                "training with a RANDOMLY INITIALISED encoder (testing only): the model will "
                "enhance far worse than with the pretrained VGG-19 weights"
            )
        mc = config.model
        # Seeded initialisation on a forked RNG: the host's global torch RNG is left as it
        # was. Nothing after this draws from the global RNG (sampling has its own).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.model = QAGAN(config.model, encoder).to(self.device)
            self.d_h = MultiScaleDiscriminator(mc.d_channels, mc.spectral_norm).to(self.device)
            self.d_l = MultiScaleDiscriminator(mc.d_channels, mc.spectral_norm).to(self.device)
        g_params = list(self.model.g_h.parameters()) + list(self.model.g_l.parameters())
        d_params = list(self.d_h.parameters()) + list(self.d_l.parameters())
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(g_params, lr=config.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(d_params, lr=config.lr_d, betas=betas)
        self.use_amp = bool(config.amp and self.device.type == "cuda")
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        # Only the history buffer draws from it now; every process has its own.
        self.rng = random.Random(config.seed if rank == 0 else f"{config.seed}:rank:{rank}")
        self.history_h = ImageHistory(config.history_size)
        self.history_l = ImageHistory(config.history_size)
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.color = None
        if config.color_steps and config.model.global_curve:
            thumbs = (self.low.thumbnails(mc.global_size), self.high.thumbnails(mc.global_size))
            self.color = ColorTraining(self.model, *thumbs, config)
        self.best: dict | None = None  # {"score", "step", "g_h", "g_l"} with export "best"
        self.average: dict | None = None  # {"steps", "g_h", "g_l"} with export "average"
        self._preview_input = self.low.first_image(256) if config.preview_every else None
        # After the thumbnails: they may drop unreadable files, the batches index the rest.
        batches = StepBatches(self.low, self.high, config.batch_size, config.seed, rank, world)
        self.loader = StepLoader(batches, config.workers, pin_memory=self.device.type == "cuda")
        # What the steps call: the networks, or their DDP wrappers under torchrun.
        self._g_h: torch.nn.Module = self.model.g_h
        self._g_l: torch.nn.Module = self.model.g_l
        self._d_h: torch.nn.Module = self.d_h
        self._d_l: torch.nn.Module = self.d_l
        if distributed is not None:
            head = self.model.g_h.curve if self.color is not None else None  # trained by the colour term
            self._g_h = distributed.wrap(self.model.g_h, exclude=head)
            self._g_l = distributed.wrap(self.model.g_l)
            self._d_h = distributed.wrap(self.d_h)
            self._d_l = distributed.wrap(self.d_l)

    @property
    def is_main(self) -> bool:
        """The process that writes files (the only one without torchrun)."""
        return self.distributed is None or self.distributed.is_main

    def describe(self) -> str:
        """The settings this run trains with, in one paragraph (the CLI prints it)."""
        cfg = self.config
        if self.budget_s:
            length = (f"for {cfg.minutes:g} min (learning rate decaying over the second half of the "
                      "time)")
        else:
            length = f"for {self.total_steps} steps"
        color = (f"global head {cfg.color_steps} updates/step ({cfg.head_objective}) at lr {cfg.lr_color:g}"
                 + (f", weight decay {cfg.head_weight_decay:g}" if cfg.head_weight_decay else "")
                 + (f", {cfg.head_updates} updates in all" if cfg.head_updates else "")
                 + (f", generic defects on {cfg.head_generic_defects:g} of its pairs"
                    if cfg.head_generic_defects else "")
                 if self.color is not None else "no colour-head training")
        where = str(self.device)
        batch = f"batch {cfg.batch_size}"
        if self.distributed is not None:
            world = self.distributed.world_size
            where = f"{world} processes ({self.device.type})"
            batch = f"global batch {cfg.batch_size} ({cfg.batch_size // world} per process)"
        return (f"training on {len(self.low)} low / {len(self.high)} high photos on {where} "
                f"{length}: {batch}, crops {cfg.crop_size} px resized to "
                f"{cfg.train_size} px, lr {cfg.lr_g:g}/{cfg.lr_d:g}, lambda_cc {cfg.lambda_cc:g}, "
                f"identity {cfg.lambda_idt:g}, adversarial {cfg.lambda_adv:g}, "
                f"U-Net mean {cfg.lambda_unet_mean:g}, {color}"
                + (", best-by-validation export" if cfg.export == "best" and self.color is not None else "")
                + (", exporting the weights averaged over the second half" if cfg.export == "average"
                   else "")
                + (" after the head's last update" if cfg.export == "average" and self._head_budgeted()
                   else ""))

    # ----------------------------------------------------------------- one step
    @property
    def encoder(self) -> VGGEncoder:
        return self.model.encoder

    def _lr_factor(self) -> float:
        if self.budget_s:
            return lr_factor_at(self.elapsed_s / self.budget_s)
        return lr_factor(self.step, self.total_steps)

    def _set_lr(self) -> tuple[float, float]:
        f = self._lr_factor()
        lr_g, lr_d = self.config.lr_g * f, self.config.lr_d * f
        for group in self.opt_g.param_groups:
            group["lr"] = lr_g
        for group in self.opt_d.param_groups:
            group["lr"] = lr_d
        return lr_g, lr_d

    def _head_updates(self) -> tuple[int, float]:
        """The global head's updates at this step and their learning-rate factor: ``color_steps``
        at the run's factor; with ``head_updates``, until that many are made (counted as steps
        times ``color_steps``), at the lower of the run's factor and the one a run of
        ``head_updates / color_steps`` steps would have now (so the head ends as such a run's)."""
        cfg = self.config
        if self.color is None:
            return 0, 0.0
        if not cfg.head_updates:
            return cfg.color_steps, self._lr_factor()
        updates = max(0, min(cfg.color_steps, self._head_updates_left()))
        return updates, min(self._lr_factor(), lr_factor(self.step, self._head_steps()))

    def _head_budgeted(self) -> bool:
        """Whether the global head trains with a budget of updates (``head_updates``)."""
        return self.color is not None and bool(self.config.head_updates)

    def _head_steps(self) -> int:
        """With ``head_updates``: the steps that make them; the last of them makes the head's last update."""
        return math.ceil(self.config.head_updates / self.config.color_steps)

    def _steps_after_head(self) -> int:
        """How many of the steps so far are the step of the head's last update or after it (all
        of them without ``head_updates``): the most that export "average" can have folded in."""
        if not self._head_budgeted():
            return self.step
        return max(0, self.step - self._head_steps() + 1)

    def _head_updates_left(self) -> int:
        """With ``head_updates``: how many of them are still to be made after the steps so far."""
        return self.config.head_updates - self.step * self.config.color_steps

    def train_step(self) -> dict[str, float]:
        """One generator update and one discriminator update; returns the losses."""
        cfg = self.config
        lr_g, lr_d = self._set_lr()
        real_l, real_h = self.loader.get(self.step)
        real_l = real_l.to(self.device, non_blocking=True)
        real_h = real_h.to(self.device, non_blocking=True)
        # D's forward passes of the G update go to the networks themselves: D is not updated there.
        enc, g_h, g_l = self.encoder, self._g_h, self._g_l
        mean = self.distributed.global_mean if self.distributed else torch.mean
        self.model.g_h.train()
        self.model.g_l.train()
        autocast = torch.autocast("cuda", dtype=torch.float16, enabled=self.use_amp)

        def transform(x: torch.Tensor, feats: list[torch.Tensor]):
            if self.color is None:
                return self.model.global_transform(x, feats)
            with torch.no_grad():  # the head learns from its own objective only (color.py)
                return self.model.global_transform(x, feats)

        if self.color is not None:
            self.color.prepare()  # the degradation, before the identity term uses it
        with autocast:
            with torch.no_grad():
                f_l, f_h = enc(real_l), enc(real_h)
            transform_l = transform(real_l, f_l)
            fake_h = g_h(real_l, f_l, transform_l)
            f_fake_h = enc(fake_h)
            rec_l = g_l(fake_h, f_fake_h, f_l)
            fake_l = g_l(real_h, f_h, f_l)
            f_fake_l = enc(fake_l)
            rec_h = g_h(fake_l, f_fake_l, transform(fake_l, f_fake_l))
            cc_l = cycle_loss(f_l, enc(rec_l))
            cc_h = cycle_loss(f_h, enc(rec_h))
            self.d_h.requires_grad_(False)
            self.d_l.requires_grad_(False)
            with torch.no_grad():
                d_real_h, d_real_l = self.d_h(real_h), self.d_l(real_l)
            adv_h = rahinge_g_loss(d_real_h, self.d_h(fake_h), mean)
            adv_l = rahinge_g_loss(d_real_l, self.d_l(fake_l), mean)
            loss_g = cfg.lambda_adv * (adv_h + adv_l) + cfg.lambda_cc * (cc_l + cc_h)
            unet_mean = torch.zeros((), device=self.device)
            base = self.model.g_h.pointwise(real_l, transform_l)
            if base is not None:  # the U-Net's residual (the head's gradients through it cancel)
                unet_mean = (fake_h.float() - base).mean(dim=(2, 3)).abs().mean()
                if cfg.lambda_unet_mean > 0:
                    loss_g = loss_g + cfg.lambda_unet_mean * unet_mean
            idt = torch.zeros((), device=self.device)
            if cfg.lambda_idt > 0:
                source_h, f_source_h = real_h, f_h
                pairs = self.color is not None and self.color.objective in PAIR_OBJECTIVES
                if pairs and cfg.degraded_identity:
                    source_h = self.color.degrade(real_h)  # degraded like the low folder: G_H undoes it
                    with torch.no_grad():
                        f_source_h = enc(source_h)
                idt_h = g_h(source_h, f_source_h, transform(source_h, f_source_h))
                idt_l = g_l(real_l, f_l, f_l)
                idt = (idt_h.float() - real_h).abs().mean() + (idt_l.float() - real_l).abs().mean()
                loss_g = loss_g + cfg.lambda_idt * idt
        self._check_finite("generator", loss_g)
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss_g).backward()
        head = self.model.g_h.curve
        head_grad = 0.0
        if head is not None and self.color is None:
            head_grad = head_grad_norm(head) / (self.scaler.get_scale() if self.use_amp else 1.0)
        self.scaler.step(self.opt_g)

        self.d_h.requires_grad_(True)
        self.d_l.requires_grad_(True)
        shown_h = self.history_h.query(fake_h, self.rng)
        shown_l = self.history_l.query(fake_l, self.rng)
        with autocast:
            loss_d_h = rahinge_d_loss(self._d_h(real_h), self._d_h(shown_h), mean)
            loss_d_l = rahinge_d_loss(self._d_l(real_l), self._d_l(shown_l), mean)
            loss_d = loss_d_h + loss_d_l
        self._check_finite("discriminator", loss_d)
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler.scale(loss_d).backward()
        self.scaler.step(self.opt_d)
        self.scaler.update()

        color = 0.0
        updates, f = self._head_updates()
        if updates:
            color = sum(self.color.step(f) for _ in range(updates)) / updates
            head_grad = self.color.grad_norm
            if self.distributed is not None:  # identical already; this keeps GPU rounding from drifting
                self.distributed.broadcast_parameters(self.color.head)

        self.step += 1
        losses = {
            "loss_g": float(loss_g.detach()),
            "adv_h": float(adv_h.detach()),
            "adv_l": float(adv_l.detach()),
            "cycle": float((cc_l + cc_h).detach()),
            "identity": float(idt.detach()),
            "unet_mean": float(unet_mean.detach()),
            "color": color,
            "head_grad": head_grad,
            "loss_d_h": float(loss_d_h.detach()),
            "loss_d_l": float(loss_d_l.detach()),
        }
        if self.distributed is not None:  # the global batch's losses, as one process would report
            losses = dict(zip(losses, self.distributed.mean(list(losses.values())), strict=True))
        self.history.append({"step": self.step, **losses, "lr_g": lr_g, "lr_d": lr_d})
        return losses

    def _out_of_memory_message(self) -> str:
        cfg = self.config
        kept = self.state_path if self.state_path and self.state_path.exists() else None
        where = f"; the last saved checkpoint is kept at {kept}" if kept else ""
        return (f"out of memory at training step {self.step + 1} on {self.device} (batch size "
                f"{cfg.batch_size}, training size {cfg.train_size}): lower the batch size or the "
                f"training size{where}")

    def _check_finite(self, which: str, loss: torch.Tensor) -> None:
        value = float(loss.detach())
        if self.distributed is not None:  # every process stops together
            value = self.distributed.mean([value])[0]
        if not math.isfinite(value):
            kept = self.state_path if self.state_path and self.state_path.exists() else None
            where = f"; the last good checkpoint is kept at {kept}" if kept else ""
            raise TrainingDiverged(
                f"training diverged at step {self.step + 1}: the {which} loss became "
                f"{value} (try a lower learning rate){where}"
            )

    # -------------------------------------------------------------- the loop
    def run(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        on_preview: Callable[[int, torch.Tensor], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> TrainResult:
        """Train up to ``total_steps`` (or for ``minutes``); saves at intervals, at the end
        and on cancel."""
        cfg = self.config
        next_check = self._fraction()
        while not self.finished():
            if self._stop_requested(should_stop):
                self.loader.close()
                saved = self.save()
                where = f"; progress saved to {saved}" if saved else ""
                raise Cancelled(f"training cancelled at step {self.step}/{self.total_steps}{where}")
            started = time.monotonic()
            try:
                losses = self.train_step()
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                raise QAGANError(self._out_of_memory_message()) from exc
            if self.color is not None and self._fraction() >= next_check:
                self.validate()
                next_check = (math.floor(self._fraction() * VALIDATIONS) + 1) / VALIDATIONS
            if (on_preview is not None and cfg.preview_every and self.step % cfg.preview_every == 0
                    and self.is_main):
                on_preview(self.step, self.preview())
            if cfg.save_every and self.step % cfg.save_every == 0 and not self.finished():
                self.save()
            self.elapsed_s += time.monotonic() - started
            if self.distributed is not None:  # one clock for the budget: all stop at the same step
                self.elapsed_s = self.distributed.max(self.elapsed_s)
            if self.budget_s:
                self.total_steps = max(self.step, round(self.step * self.budget_s / self.elapsed_s))
                if self.finished():
                    self.total_steps = self.step
            if self._averaging():
                self._add_to_average()
            if on_progress is not None:
                lr = self.opt_g.param_groups[0]["lr"], self.opt_d.param_groups[0]["lr"]
                on_progress(Progress(self.step, self.total_steps, losses, *lr))
        self.loader.close()
        if self.color is not None and (not self.history or "val_color" not in self.history[-1]):
            self.validate()
        self.save()
        return TrainResult(self.step, self.history, self.model_path, self.state_path)

    def _stop_requested(self, should_stop: Callable[[], bool] | None) -> bool:
        stop = bool(should_stop()) if should_stop is not None else False
        return self.distributed.any(stop) if self.distributed is not None else stop

    def finished(self) -> bool:
        if self.budget_s:
            return self.elapsed_s >= self.budget_s
        return self.step >= self.total_steps

    def _fraction(self) -> float:
        if self.budget_s:
            return self.elapsed_s / self.budget_s
        return self.step / max(1, self.total_steps)

    def validate(self) -> float:
        """Score the current generators by the no-reference criterion; keep the best."""
        assert self.color is not None
        checks = self.color.validation()
        score = checks["val_color"]
        if self.history:
            self.history[-1].update(checks)
        if self.config.export == "best" and (self.best is None or score < self.best["score"]):
            self.best = {
                "score": score, "step": self.step,
                "g_h": {k: v.detach().clone() for k, v in self.model.g_h.state_dict().items()},
                "g_l": {k: v.detach().clone() for k, v in self.model.g_l.state_dict().items()},
            }
        return score

    def _averaging(self) -> bool:
        """Whether export "average" folds in this step: one of the second half, and with
        ``head_updates`` one after the head's last update. Averaging the head over its own
        decay would mix its earlier states into the one its schedule ends with; a run that ends
        with the head's budget exports its last generators (BENCHMARKS.md, "Goal 4 for the
        fixes preset")."""
        cfg = self.config
        if cfg.export != "average" or self._fraction() < 0.5:
            return False
        return not self._head_budgeted() or self._head_updates_left() <= 0

    @torch.no_grad()
    def _add_to_average(self) -> None:
        """Fold the current generators into the running mean of their weights (export "average":
        the steps of the second half, while the learning rate decays; stochastic weight averaging)."""
        if self.average is None:
            self.average = {"steps": 0, "g_h": {}, "g_l": {}}
        self.average["steps"] += 1
        for name, module in (("g_h", self.model.g_h), ("g_l", self.model.g_l)):
            fold_into_mean(self.average[name], module.state_dict(), self.average["steps"])

    @torch.no_grad()
    def preview(self) -> torch.Tensor:
        """The fixed low-quality sample enhanced by the current G_H, ``[3, H, W]``."""
        x = self._preview_input
        if x is None:
            x = self.low.first_image(256)
            self._preview_input = x
        self.model.g_h.eval()
        y = self.model.enhance_tensor(x[None].to(self.device))[0].clamp(0, 1).cpu()
        self.model.g_h.train()
        return y

    # ------------------------------------------------------------ checkpoints
    def training_info(self) -> dict:
        cfg = self.config
        return {
            "steps": self.step,
            "total_steps": self.total_steps,
            "batch_size": cfg.batch_size,
            "lambda_cc": cfg.lambda_cc,
            "lambda_idt": cfg.lambda_idt,
            "lambda_adv": cfg.lambda_adv,
            "lambda_unet_mean": cfg.lambda_unet_mean,
            "degraded_identity": cfg.degraded_identity,
            "history_size": cfg.history_size,
            "color_steps": cfg.color_steps if self.color is not None else 0,
            "head_objective": cfg.head_objective if self.color is not None else None,
            "head_weight_decay": cfg.head_weight_decay if self.color is not None else None,
            "head_updates": cfg.head_updates if self.color is not None else None,
            "head_generic_defects": cfg.head_generic_defects if self.color is not None else None,
            "minutes": cfg.minutes,
            "train_seconds": round(self.elapsed_s, 1),
            "export": cfg.export,
            "best_step": self.best["step"] if self.best else None,
            "averaged_steps": self.average["steps"] if self.average else None,
            "train_size": cfg.train_size,
            "crop_size": cfg.crop_size,
            "n_low": len(self.low),
            "n_high": len(self.high),
            "skipped_low": len(self.low.skipped),
            "skipped_high": len(self.high.skipped),
            "seed": cfg.seed,
            "random_encoder": self.encoder.identity.is_random,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }

    def exported(self) -> str:
        """What ``export_model`` gives, in words (the CLI and the Train node end a run with it)."""
        cfg = self.config
        if self.best:
            return (f"the generators of step {self.best['step']}, best by the no-reference check "
                    "(colour distance to the high folder)")
        if self.average:
            n = self.average["steps"]
            after_head = ", after the head's last update" if self._head_budgeted() else ""
            return (f"the generators averaged over the last {n} step{'s' if n != 1 else ''} "
                    f"(of the second half of the run{after_head})")
        if cfg.export == "last":
            return "the generators of the last step"
        if cfg.export == "best":
            why = "export best needs the global head's training, which this run has not"
        elif self._head_budgeted() and self._head_updates_left() > 0:
            why = "nothing was averaged: the run ended before the head's budget was spent"
        else:
            why = "nothing was averaged: the run ended before its second half"
        return f"the generators of the last step ({why})"

    def export_model(self) -> QAGAN:
        """The generators chosen by ``export`` (the current ones until there is an average or a
        best) as an enhancement model (in eval mode)."""
        model = QAGAN(self.config.model, self.encoder, {"training": self.training_info()})
        chosen = self.average or self.best
        model.g_h.load_state_dict(chosen["g_h"] if chosen else self.model.g_h.state_dict())
        model.g_l.load_state_dict(chosen["g_l"] if chosen else self.model.g_l.state_dict())
        return model.to(self.device).eval()

    def save(self) -> Path | None:
        """Write the model and the training state where configured; returns the state path.

        Under torchrun rank 0 writes and the others wait until it has.
        """
        if self.is_main:
            if self.model_path is not None:
                save_model(self.export_model(), self.model_path, overwrite=True)
            if self.state_path is not None:
                self.save_state(self.state_path)
        if self.distributed is not None:
            self.distributed.barrier()
        return self.state_path or self.model_path

    def save_state(self, path: str | Path) -> Path:
        """Write everything an exact resume needs (the file format: ``checkpoints.TrainingState``)."""
        best = self.best
        state = TrainingState(
            networks={"g_h": self.model.g_h.state_dict(), "g_l": self.model.g_l.state_dict(),
                      "d_h": self.d_h.state_dict(), "d_l": self.d_l.state_dict()},
            optimizers={"opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()},
            model_config=self.config.model.to_dict(),
            encoder=identity_dict(self.encoder.identity),
            training=self.training_info(),
            train_config=self.config.to_dict(),
            step=self.step,
            elapsed_s=self.elapsed_s,
            rng_python=self.rng.getstate(),
            history=self.history,
            scaler=self.scaler.state_dict() if self.use_amp else None,
            history_images={"history_h": self.history_h.state(), "history_l": self.history_l.state()},
            color=self.color.state_tensors() if self.color is not None else {},
            best=best,
            average=self.average,
        )
        return save_training_state(path, state)

    def load_state(self, path: str | Path) -> None:
        """Continue exactly where a saved training state left off."""
        self.restore(read_training_state(path))

    def restore(self, state: TrainingState) -> None:
        """Continue exactly where ``state`` (``read_training_state``) left off."""
        path = state.source
        for name, module, what in (("g_h", self.model.g_h, "G_H"), ("g_l", self.model.g_l, "G_L"),
                                   ("d_h", self.d_h, "D_H"), ("d_l", self.d_l, "D_L")):
            load_weights(module, state.networks[name], what, path)
        self.opt_g.load_state_dict(state.optimizers["opt_g"])
        self.opt_d.load_state_dict(state.optimizers["opt_d"])
        self.history_h.load(state.history_images.get("history_h"), self.device)
        self.history_l.load(state.history_images.get("history_l"), self.device)
        if self.use_amp and state.scaler:
            self.scaler.load_state_dict(state.scaler)
        self.rng.setstate(state.rng_python)
        self.step = state.step
        if self.distributed is not None and not self.distributed.is_main:  # the state holds rank 0's
            self.rng.seed(f"{self.config.seed}:rank:{self.distributed.rank}:step:{self.step}")
        self.elapsed_s = state.elapsed_s
        if self.color is not None:
            self.color.load_state_tensors(state.color, path)
        # Only the record of this run's export rule (a resume may change the rule).
        if state.best is not None and self.config.export == "best":
            self.best = dict(state.best)
        if state.average is not None and self.config.export == "average":
            if state.average["steps"] > self._steps_after_head():
                log.warning("%s: its average of the generators includes steps before the head's last "
                            "update (saved by an older version, or with another head budget); averaging "
                            "starts again", path)
            else:
                self.average = {"steps": state.average["steps"]}
                for name, module, what in (("g_h", self.model.g_h, "averaged G_H"),
                                           ("g_l", self.model.g_l, "averaged G_L")):
                    load_weights(copy.deepcopy(module), state.average[name], what, path)  # checks it fits
                    self.average[name] = {k: v.to(self.device) for k, v in state.average[name].items()}
        if self.budget_s:
            self.total_steps = max(self.step, round(self.step * self.budget_s / max(self.elapsed_s, 1e-9)))
        self.history = list(state.history)
        if self.is_main:
            log.info("resumed from %s at step %d/%d", path, self.step, self.total_steps)

    @classmethod
    def resume(
        cls,
        path: str | Path,
        overrides: dict | None = None,
        encoder: VGGEncoder | None = None,
        model_path: str | Path | None = None,
        state_path: str | Path | None = None,
        distributed: Distributed | None = None,
    ) -> Trainer:
        """A trainer rebuilt from a training state (settings from the file, ``overrides`` on top);
        a state written by any number of processes resumes on any other number."""
        state = read_training_state(path)
        data = dict(state.train_config)
        data.update(overrides or {})
        config = TrainConfig.from_dict(data)
        if encoder is None:
            encoder = encoder_for(state.encoder, config.models_dir)
        trainer = cls(config, encoder, model_path, state_path or state.source, distributed)
        trainer.restore(state)
        return trainer
