#!/usr/bin/env bash
# Issue 9 on a lent GPU (one device session, two calls): the looks at the paper's schedule, the
# defects with the fixes preset, and the late drift of long runs.
#
#   bash benchmarks/run_issue9_gpu.sh PHOTOS WORK OUT START_UNTIL KILL_AT ENTRY...
#
# PHOTOS: a copy of ../shared/data/photos that travels with the working tree; WORK: a scratch
# folder on the device that outlives a call (an ignored folder of the tree, benchmarks/out/gpu);
# OUT: where the packed results go; START_UNTIL: no run starts after this many seconds of the
# queue; KILL_AT: runs still going then are stopped. ENTRY, queued in
# the order given: paper:NAME[:KEY=JSON,...] = a variant (TrainConfig settings over the
# shipped defaults) at the paper's schedule (150 epochs of batch 12 = 600 steps, crops
# 256 -> 128), the three looks x seeds 0, 1, 2; fixes:NAME[:KEY=JSON,...] = a variant of
# --preset fixes on the defects at the paper's schedule, seeds 0, 1, 2;
# screen:NAME[:KEY=JSON,...] = a variant at the CPU budget's shape (batch 4, 64 px) on punchy
# for 445 steps (what 60 minutes give the CPU, where the recipe of 2026-12-04 fell 2.6 dB),
# seeds 0, 1, 2.
#
# Time (2026-12-04, H200): building the looks took ~2.5 minutes, and twelve runs at once train
# at ~0.9 s per step each, so 600 steps need ~9 minutes: one call does not hold both. Build first
# (no ENTRY: the call builds and stops), then queue the runs at once in a second call on the warm
# machine; a task already built in WORK is not built again.
#
# 1. builds the three looks (and the defects, for fixes entries or with no ENTRY) from PHOTOS
#    (the same split as on the CPU: it depends on the file names alone; the split files'
#    checksums are printed to compare);
# 2. runs them, twelve at a time, each evaluated under every export rule and tracked on the
#    test photos (G_H and its global transform alone) at 20 steps;
# 3. packs results and logs into OUT/results.tgz whenever a run finishes and every minute,
#    and a grid of seed 0 of each paper and fixes entry per task at the end.
set -uo pipefail
PHOTOS=$1 WORK=$2 OUT=$3 START_UNTIL=$4 KILL_AT=$5
shift 5
ENTRIES=("$@")
TASKS=(warm cool_matte punchy)
if [ ${#ENTRIES[@]} -eq 0 ] || [[ " ${ENTRIES[*]} " == *" fixes:"* ]]; then TASKS+=(defects); fi
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# Overrides for a dry run on a CPU: DEVICE=cpu PAPER_STEPS=1 LONG_STEPS=1 AT_ONCE=1
DEVICE=${DEVICE:-cuda} PAPER_STEPS=${PAPER_STEPS:-600} LONG_STEPS=${LONG_STEPS:-445} AT_ONCE=${AT_ONCE:-12}
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
LOOKS=(warm cool_matte punchy)
mkdir -p "$WORK" "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
for t in "${TASKS[@]}"; do
  [ -f "$WORK/$t/results/autocontrast.json" ] && continue  # built by an earlier call
  ($PY benchmarks/quality.py --out "$WORK/$t" build --task "$t" --photos "$PHOTOS" \
     && $PY benchmarks/quality.py --out "$WORK/$t" baselines --only input autocontrast) > "$WORK/build_$t.log" 2>&1 &
done
wait
for t in "${TASKS[@]}"; do tail -n 3 "$WORK/build_$t.log"; md5sum "$WORK/$t/split.json"; done
[ ${#ENTRIES[@]} -eq 0 ] && exit 0

JOBS=$WORK/jobs.txt
: > "$JOBS"
train() {  # look, name, then train arguments
  local t=$1 name=$2; shift 2
  echo "$PY benchmarks/quality.py --out $WORK/$t train $name --device $DEVICE --threads 1 --log-every 50" \
       "--compare-exports --track-test $*" >> "$JOBS"
}
sets() {  # NAME:KEY=JSON,KEY=JSON -> " --set KEY=JSON --set KEY=JSON"
  local spec=$1 out=""
  [[ $spec == *:* ]] || return 0
  IFS=, read -ra pairs <<< "${spec#*:}"
  for kv in "${pairs[@]}"; do out+=" --set $kv"; done
  echo "$out"
}
CPU_SHAPE="--set batch_size=4 --set train_size=64"
for entry in "${ENTRIES[@]}"; do
  kind=${entry%%:*} variant=${entry#*:}
  name=${variant%%:*}
  for seed in 0 1 2; do
    if [ "$kind" = paper ]; then
      for t in "${LOOKS[@]}"; do
        train "$t" "gpu${name}_paper600_s$seed" --seed $seed --product-steps $PAPER_STEPS "$(sets "$variant")"
      done
    elif [ "$kind" = fixes ]; then
      train defects "gpu${name}_fixes600_s$seed" --preset fixes --seed $seed --product-steps $PAPER_STEPS \
        "$(sets "$variant")"
    else
      train punchy "gpu${name}_cpu445_s$seed" --seed $seed --product-steps $LONG_STEPS "$CPU_SHAPE$(sets "$variant")"
    fi
  done
done
cat "$JOBS"

PACK="cd $WORK && tar czf $OUT/results.tmp.tgz jobs.txt build_*.log logs */results/gpu*.json 2>/dev/null; \
mv $OUT/results.tmp.tgz $OUT/results.tgz"
$PY benchmarks/job_queue.py "$JOBS" --jobs "$AT_ONCE" --start-until "$START_UNTIL" --kill-at "$KILL_AT" --logs "$WORK/logs" \
    --after "$PACK" --after-every 60 | tee "$OUT/queue.log"
bash -c "$PACK"
for entry in "${ENTRIES[@]}"; do  # a grid of seed 0 of each entry, per task
  kind=${entry%%:*} name=${entry#*:}; name=${name%%:*}
  case $kind in paper) tasks=("${LOOKS[@]}");; fixes) tasks=(defects);; *) continue;; esac
  for t in "${tasks[@]}"; do
    $PY benchmarks/quality.py --out "$WORK/$t" grid "gpu${name}_${kind}600_s0" --rows 4 --cell 128 \
        --grid "$OUT/grid_${t}_$name.png" > /dev/null 2>&1 || echo "no grid for $t ($name)"
  done
done
ls -la "$OUT"
