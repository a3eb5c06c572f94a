#!/usr/bin/env bash
# The issue-9 queue of 2026-12-04 on a 2-core CPU, the shipped recipe (identity weight 5):
# 1. the looks at 15 minutes, 3 seeds, each run evaluated under every export rule
#    (--compare-exports): the three seeds of a look together, one thread each, nothing else on
#    the machine, look after look;
# 2. more budget on punchy: 60 minutes (seed 0) beside 30 minutes (seeds 0, 1 and 2), four runs
#    of one thread at once for the first 30 minutes; the 60-minute run then ran beside the
#    test suite (BENCHMARKS.md gives the steps each run got).
set -euo pipefail
cd "$(dirname "$0")/.."
Q="${PYTHON:-.venv/bin/python} benchmarks/quality.py"
LOG=benchmarks/out/run_issue9_s24.log
mkdir -p benchmarks/out
run() {  # task seed minutes tag
  $Q --out "benchmarks/out/$1" sweep --variants product --seeds "$2" --tag "$4" -- \
    --minutes "$3" --threads 1 --log-every 10 --compare-exports >> "$LOG" 2>&1
}
for task in warm cool_matte punchy; do
  for seed in 0 1 2; do run "$task" "$seed" 15 _cmp_15min & done
  wait
done
run punchy 0 60 _cmp_60min &
for seed in 0 1 2; do run punchy "$seed" 30 _cmp_30min & done
wait
