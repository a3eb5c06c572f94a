#!/usr/bin/env bash
# The issue-9 queue of 2026-12-03 (selection by the synthetic-pair check), on a 2-core CPU,
# three runs at a time (one thread each): the budget curve of punchy at 4x (60 min) in one
# slot; the looks at 15 minutes (3 seeds, each tracking its test PSNR at every validation),
# the defects at 15 minutes (3 seeds) and punchy at 2x (30 min) in the other two.
set -euo pipefail
cd "$(dirname "$0")/.."
Q="${PYTHON:-.venv/bin/python} benchmarks/quality.py"
jobs=("$Q --out benchmarks/out/punchy sweep --variants product --seeds 0 --tag _60min -- --minutes 60 --threads 1 --log-every 20 --track-test")
for seed in 0 1 2; do
  for task in cool_matte warm punchy; do
    jobs+=("$Q --out benchmarks/out/$task sweep --variants product --seeds $seed --tag _15min -- --minutes 15 --threads 1 --log-every 10 --track-test")
  done
done
for seed in 0 1 2; do
  jobs+=("$Q --out benchmarks/out/defects sweep --variants product --seeds $seed --tag _15min -- --minutes 15 --threads 1 --log-every 10 --track-test")
done
jobs+=("$Q --out benchmarks/out/punchy sweep --variants product --seeds 0 --tag _30min -- --minutes 30 --threads 1 --log-every 20 --track-test")
mkdir -p benchmarks/out
printf '%s\n' "${jobs[@]}" | xargs -P 3 -I{} bash -c '{} >> benchmarks/out/run_issue9_s22.log 2>&1'
