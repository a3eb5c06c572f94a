"""Which part of a model falls with more budget? Swap the global head (issue 9, diagnosis).

Takes the generators of one trained model (``--body``), puts in the global head of
another (``--head``; G_H's ``curve``), and evaluates the result on the task's test
pairs like ``quality.py train`` does (a result ``--name`` under ``--out/results``).
If the 4x model with the 1x model's head scores as the 1x model, the rest of G_H (the
U-Net) did not change the output with the budget, and what fell is the head:

    python benchmarks/swap_head.py --out benchmarks/out/defects \\
        --body fixeswd_532_s1 --head fixeswd_133_s1 --name swap_532body_133head_s1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.quality import evaluate, test_pairs, to_tensor, write_result  # noqa: E402
from qagan_core import enhance, load_model  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="a task's work folder (quality.py build)")
    parser.add_argument("--body", required=True, help="model whose generators are kept (name under models/)")
    parser.add_argument("--head", required=True, help="model whose global head replaces the body's")
    parser.add_argument("--name", required=True, help="name of the result")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    model = load_model(out / "models" / f"{args.body}.safetensors", device="cpu")
    donor = load_model(out / "models" / f"{args.head}.safetensors", device="cpu")
    if model.g_h.curve is None or donor.g_h.curve is None:
        raise SystemExit("both models need G_H's global head")
    model.g_h.curve.load_state_dict(donor.g_h.curve.state_dict())
    pairs = test_pairs(out)
    outputs = {name: enhance(to_tensor(x), model).numpy().transpose(1, 2, 0) for name, x, _ in pairs}
    result = evaluate(args.name, outputs, pairs, out)
    result["swap"] = {"body": args.body, "head": args.head}
    write_result(out, result)


if __name__ == "__main__":
    main()
