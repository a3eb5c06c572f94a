"""What does a model do to photos that need no fix? (issue 9, the ``fixes`` preset)

A model for defects should leave a well-made photo about as it is. This enhances the
*originals* of a task's test photos (``test/target``, no defects) with trained models
and compares each output with the photo itself: a visible change is a cost the defect
benchmark cannot show. Per model: the mean PSNR to the photo (each capped at 50 dB,
where 8-bit rounding alone sits), and how many of the photos it changes visibly (below
30 dB, the defect benchmark's visibility threshold, ``defects.VISIBLE_PSNR``):

    python benchmarks/clean_photos.py --out benchmarks/out/defects fixeswd_133_s0 generic_133_s0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.defects import VISIBLE_PSNR  # noqa: E402
from benchmarks.quality import BORDER, quantise, test_pairs, to_tensor  # noqa: E402
from qagan_core import enhance, load_model  # noqa: E402
from qagan_core.metrics import psnr_per_image  # noqa: E402

CAP = 50.0  # dB


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="a task's work folder (quality.py build)")
    parser.add_argument("models", nargs="+", help="model names under --out/models")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    originals = [(name, to_tensor(target)) for name, _, target in test_pairs(out)]
    print("| model | mean PSNR to the photo (capped at 50 dB) | visibly changed (< 30 dB) | lowest |")
    print("|---|---|---|---|")
    for model_name in args.models:
        model = load_model(out / "models" / f"{model_name}.safetensors", device="cpu")
        scores = []
        for _, x in originals:
            y = to_tensor(quantise(enhance(x, model).numpy().transpose(1, 2, 0)))
            scores.append(min(CAP, float(psnr_per_image(y[None], x[None], BORDER)[0])))
        changed = sum(s < VISIBLE_PSNR for s in scores)
        print(f"| {model_name} | {sum(scores) / len(scores):.2f} dB | {changed} of {len(scores)} | "
              f"{min(scores):.2f} dB |", flush=True)


if __name__ == "__main__":
    main()
