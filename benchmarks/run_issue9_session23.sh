#!/usr/bin/env bash
# The issue-9 queue of 2026-12-03 (evening) on a 2-core CPU: the looks at 15 minutes, 3 seeds,
# the identity weight 5 (the U-Net transient, BENCHMARKS.md). The three seeds of a look run
# together (one thread each, nothing else on the machine), so they get the same share of the CPU.
# Then the defects, 3 seeds at once (beside two runs of benchmarks/transient.py).
set -euo pipefail
cd "$(dirname "$0")/.."
Q="${PYTHON:-.venv/bin/python} benchmarks/quality.py"
mkdir -p benchmarks/out
for task in cool_matte punchy warm; do
  for seed in 0 1 2; do
    $Q --out "benchmarks/out/$task" sweep --variants product --seeds "$seed" --tag _idt5_15min -- \
      --minutes 15 --threads 1 --log-every 10 --lambda-idt 5 >> benchmarks/out/run_issue9_s23.log 2>&1 &
  done
  wait
done
for seed in 0 1 2; do
  $Q --out benchmarks/out/defects sweep --variants product --seeds "$seed" --tag _idt5_15min -- \
    --minutes 15 --threads 1 --log-every 10 --lambda-idt 5 >> benchmarks/out/run_issue9_s23.log 2>&1 &
done
wait
