"""The README's main job: a short unpaired training on the bundled sample photos.

The low-quality folder holds the samples with a fixed "ordinary photo" look
(underexposed, flat, with a cool cast); the high-quality folder holds the
untouched samples. Training is unpaired (it is never told which photo matches
which); with so few photos, the two folders showing the same scenes keeps the
look apart from the content. A short training follows, then the low-quality
photos are enhanced, scored against the originals and shown on a comparison
sheet. BENCHMARKS.md measures the same on held-out photos.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from .encoder import resolve_encoder
from .errors import EncoderWeightsError
from .images import list_images, load_image, save_image
from .inference import enhance
from .metrics import psnr
from .model import ModelConfig
from .pixels import resize
from .training import TrainConfig, Trainer

SAMPLES = Path(__file__).parent / "samples"


def ordinary_look(x: torch.Tensor) -> torch.Tensor:
    """A fixed defect: gamma 1.6 (darker), contrast 0.75 around mid-grey, cool cast."""
    y = x.clamp(0, 1) ** 1.6
    y = 0.5 + 0.75 * (y - 0.5)
    cast = torch.tensor([0.90, 0.98, 1.08]).view(3, 1, 1)
    return (y * cast).clamp(0, 1)


def _sheet(rows: list[list[torch.Tensor]], height: int = 160) -> torch.Tensor:
    """Side-by-side rows (low | enhanced | original) scaled to a common height."""
    lines = []
    for row in rows:
        scaled = []
        for img in row:
            w = max(1, round(img.shape[2] * height / img.shape[1]))
            scaled.append(resize(img, (height, w)))
            scaled.append(torch.ones(3, height, 4))
        lines.append(torch.cat(scaled[:-1], dim=2))
    width = max(line.shape[2] for line in lines)
    lines = [F.pad(line, (0, width - line.shape[2]), value=1.0) for line in lines]
    return torch.cat([torch.cat([line, torch.ones(3, 4, width)], 1) for line in lines], 1)


def run_demo(out: Path, steps: int = 40, encoder: str = "auto", device: str = "auto") -> Path:
    samples = list_images(SAMPLES)
    low_dir, high_dir = out / "data" / "low", out / "data" / "high"
    originals = {}
    for path in samples:
        x = load_image(path)
        originals[path.name] = x
        save_image(ordinary_look(x), low_dir / path.name)
        save_image(x, high_dir / path.name)

    if encoder == "auto":
        try:
            enc = resolve_encoder("pretrained")
        except EncoderWeightsError as exc:
            print("=" * 72, file=sys.stderr)
            print(f"NOTE: {exc}.", file=sys.stderr)
            print("Falling back to a RANDOMLY INITIALISED encoder for this demo: it shows the\n"
                  "pipeline working, but results are far below those with pretrained weights.",
                  file=sys.stderr)
            print("=" * 72, file=sys.stderr)
            enc = resolve_encoder("random")
    else:
        enc = resolve_encoder(encoder)

    config = TrainConfig(
        low_dir=str(low_dir), high_dir=str(high_dir), steps=steps, batch_size=4,
        load_size=192, crop_size=128, train_size=64, device=device,
        encoder_weights=enc.identity.kind, model=ModelConfig(global_size=64),
    )
    model_path = out / "demo_model.safetensors"
    trainer = Trainer(config, encoder=enc, model_path=model_path,
                      state_path=out / "demo_model.state.safetensors")
    print(f"training {steps} steps on {len(trainer.low)} low / {len(trainer.high)} high sample photos "
          f"(device {trainer.device}, encoder: {enc.identity.kind})...", file=sys.stderr)

    def show(p) -> None:
        if p.step == 1 or p.step % 10 == 0 or p.step == p.total:
            print(f"  step {p.step}/{p.total}  G {p.losses['loss_g']:.3f}  cycle "
                  f"{p.losses['cycle']:.4f}", file=sys.stderr)

    trainer.run(on_progress=show)
    model = trainer.export_model()
    rows = []
    before, after = [], []
    for path in list_images(low_dir):
        x = load_image(path)
        y = enhance(x, model)
        save_image(y, out / "enhanced" / path.name)
        original = originals[path.name]
        rows.append([x, y, original])
        before.append(psnr(x, original))
        after.append(psnr(y, original))
    sheet = save_image(_sheet(rows), out / "comparison.jpg")
    n = len(before)
    print(f"PSNR to the originals: ordinary {sum(before) / n:.2f} dB -> enhanced {sum(after) / n:.2f} dB "
          f"({sum(a > b for a, b in zip(after, before, strict=True))} of {n} photos improved)",
          file=sys.stderr)
    print(f"done.\n  model:       {model_path}\n  enhanced:    {out / 'enhanced'}\n"
          f"  comparison:  {sheet}  (each row: ordinary | enhanced | original)")
    return sheet
