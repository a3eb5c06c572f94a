#!/usr/bin/env bash
# The issue-9 queue of 2026-12-05 (session 27) on a 2-core CPU: goal 4 ("no overshoot with more
# budget") for the shipped recipe (lambda_adv 0.05) beyond punchy seed 0 at 4x. Three runs at
# once, one thread each, tracked on the test photos at 256 px (G_H and its global transform
# alone): punchy at 2x (175 steps, seed 0); warm and cool_matte at 4x (445 steps, seed 0).
# 1x is the 133-step runs of run_issue9_session26.sh (adv005_133).
# Usage: bash benchmarks/run_issue9_session27.sh
set -euo pipefail
cd "$(dirname "$0")/.."
Q="${PYTHON:-.venv/bin/python} benchmarks/quality.py"
mkdir -p benchmarks/out/logs
run() {  # look, name, steps, then more train arguments
  local look=$1 name=$2 steps=$3; shift 3
  $Q --out "benchmarks/out/$look" train "$name" --product-steps "$steps" --threads 1 --log-every 10 \
    --compare-exports --track-test "$@" > "benchmarks/out/logs/${look}_${name}.log" 2>&1
}
run punchy adv005_175_s0 175 --seed 0 &
run warm adv005_445_s0 445 --seed 0 &
run cool_matte adv005_445_s0 445 --seed 0 &
wait
