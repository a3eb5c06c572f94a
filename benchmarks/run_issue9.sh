#!/usr/bin/env bash
# The issue-9 benchmark queue on a 2-core CPU, three runs at a time (one thread each, so
# each run has about 2/3 of a core: fewer steps than a run alone gets in its budget):
# looks and defects at the 15-minute budget (3 seeds), ablations at 2 minutes (3 seeds),
# and the budget curve (2, 4, 8, 15 and 30 minutes). Results land in benchmarks/out/<task>/results.
set -euo pipefail
cd "$(dirname "$0")/.."
Q="${PYTHON:-.venv/bin/python} benchmarks/quality.py"
jobs=()
for seed in 0 1 2; do
  for task in warm cool_matte punchy; do
    jobs+=("$Q --out benchmarks/out/$task sweep --variants product --seeds $seed --tag _15min -- --minutes 15 --threads 1 --log-every 10")
  done
done
for v in product product_colors product_color0 product_paper product_nobest; do
  jobs+=("$Q --out benchmarks/out/punchy sweep --variants $v --seeds 0,1,2 --jobs 1 --tag _2min -- --minutes 2 --threads 1 --log-every 5")
done
for seed in 0 1 2; do
  jobs+=("$Q --out benchmarks/out/defects sweep --variants product --seeds $seed --tag _15min -- --minutes 15 --threads 1 --log-every 10")
done
for m in 4 8 30; do
  jobs+=("$Q --out benchmarks/out/punchy sweep --variants product --seeds 0 --tag _${m}min -- --minutes $m --threads 1 --log-every 10")
done
mkdir -p benchmarks/out
printf '%s\n' "${jobs[@]}" | xargs -P 3 -I{} bash -c '{} >> benchmarks/out/run_issue9.log 2>&1'
