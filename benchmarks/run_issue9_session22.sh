#!/usr/bin/env bash
# The issue-9 queue of 2026-12-03 on a 2-core CPU, three runs at a time (one thread each):
# the looks at 15 minutes, 3 seeds, each run also evaluated under the other export rules
# (--compare-exports: last, best colour distance, weights averaged over the second half).
set -euo pipefail
cd "$(dirname "$0")/.."
Q="${PYTHON:-.venv/bin/python} benchmarks/quality.py"
jobs=()
for seed in 0 1 2; do
  for task in cool_matte warm punchy; do
    jobs+=("$Q --out benchmarks/out/$task sweep --variants product --seeds $seed --tag _15min -- --minutes 15 --threads 1 --log-every 10 --compare-exports")
  done
done
mkdir -p benchmarks/out
printf '%s\n' "${jobs[@]}" | xargs -P 3 -I{} bash -c '{} >> benchmarks/out/run_issue9_s22.log 2>&1'
