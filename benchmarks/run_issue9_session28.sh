#!/usr/bin/env bash
# The issue-9 queues of 2026-12-05 (session 28) on a 2-core CPU, the degradation as the mean of 8
# fits (degradation_fits 8, the default since). Three runs at a time, one thread each.
#   1: the three looks, 3 seeds, at 1x of the 15-minute CPU budget in steps (133, as the
#      adv005_133 rows), and cool_matte at 4x (445 steps, seed 0, tracked), where one fit fell 0.25 dB.
#   2: the defects at 1x (3 seeds), cool_matte at 2x (266 steps, seed 0) and 4x (seeds 1 and 2).
# Usage: bash benchmarks/run_issue9_session28.sh 1|2
set -euo pipefail
cd "$(dirname "$0")/.."
Q="${PYTHON:-.venv/bin/python} benchmarks/quality.py"
mkdir -p benchmarks/out/logs
run() {  # look, name, steps, then more train arguments
  local look=$1 name=$2 steps=$3; shift 3
  $Q --out "benchmarks/out/$look" train "$name" --product-steps "$steps" --threads 1 --log-every 10 \
    --compare-exports "$@" > "benchmarks/out/logs/${look}_${name}.log" 2>&1
}
export -f run; export Q
case "${1:?part 1 or 2}" in
  1) {
       echo "cool_matte fits8_445_s0 445 --seed 0 --track-test"
       for s in 0 1 2; do
         for look in warm cool_matte punchy; do echo "$look fits8_133_s$s 133 --seed $s"; done
       done
     } ;;
  2) {
       for s in 0 1 2; do echo "defects fits8_133_s$s 133 --seed $s"; done
       echo "cool_matte fits8_266_s0 266 --seed 0 --track-test"
       for s in 1 2; do echo "cool_matte fits8_445_s$s 445 --seed $s --track-test"; done
     } ;;
  *) echo "part 1 or 2" >&2; exit 2 ;;
esac | xargs -P 3 -L 1 bash -c 'run "$@"' _
