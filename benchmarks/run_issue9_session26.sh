#!/usr/bin/env bash
# The issue-9 queue of 2026-12-05 (session 26) on a 2-core CPU: does a weaker adversarial pull on
# the generators hold G_H's U-Net for the whole run? Three runs at a time, one thread each.
# With Adam, multiplying the identity and cycle weights by k is the same as dividing the
# adversarial weight (lambda_adv) by k.
# Round 1: punchy, seed 0, 445 steps (what 60 minutes gave the recipe of 2026-12-04, which fell
# 2.6 dB there), tracked on the test photos at 256 px (G_H and its global transform alone):
# identity 25 + cycle 10 (adversarial / 5), identity 100, identity 100 + cycle 40 (adversarial / 20).
# Round 2: lambda_adv 0.05 (the default since) at 1x of the 15-minute CPU budget in steps (133, what
# 15 minutes gave the earlier recipe with three runs at once) on the three looks, 3 seeds; punchy
# at 2x (175 steps, seed 0) and 4x (445 steps, seed 1). On 2026-12-05 the 2x and 4x runs were stopped
# for time; seed 2 of the looks ran after the others, three at once.
# Round 3 (session 27, same day): what round 2 stopped, seed 0, tracked: punchy at 2x (175 steps),
# warm and cool_matte at 4x (445 steps).
# Rounds 4 and 5 (session 28, same day): the degradation as the mean of 8 fits (degradation_fits 8,
# the default since). 4: the three looks, 3 seeds, at 133 steps, and cool_matte at 4x (445 steps,
# seed 0, tracked). 5: the defects at 133 steps (3 seeds), cool_matte at 2x (266 steps, seed 0) and
# 4x (seeds 1 and 2), tracked.
# Round 6 (session 29, 2026-12-05): the adversarial weight 0.02 instead of 0.05 (cool_matte fell
# 0.13 dB from 1x to 4x with 0.05): cool_matte at 4x (445 steps, 3 seeds, tracked) and the three
# looks at 1x (133 steps, 3 seeds); cut off with the session (seed 0 at 1x only; BENCHMARKS.md).
# Round 7 (session 30,
# 2026-12-06, two runs at a time): cool_matte at 4x (445 steps, seed 0, tracked) with the weight 0.02,
# and with the U-Net's per-crop residual mean penalised (lambda_unet_mean 10); the first was stopped
# at step 140 (it tracked as 0.05 did). Round 8 (same session, beside round 7): lambda_unet_mean 10,
# the three looks at 1x (133 steps, 3 seeds) and cool_matte at 4x (seeds 1 and 2), two at a time;
# stopped for the session's time after seed 0 of the looks and seed 1 of cool_matte and punchy.
# Round 9 (beside round 8): lambda_unet_mean 10 on the defects at 1x (seed 0).
# Round 10 (session 31, 2026-12-06): what round 8 stopped: seed 2 of the looks at 1x, three at a
# time, then cool_matte at 4x (seeds 1 and 2, tracked), two at a time.
# Round 11 (a later session, 2026-12-06): round 10's 4x runs again, two at a time (session 31's VM, with
# their results, was lost before they were written down).
# Round 12 (beside round 11): cool_matte at 2x (266 steps, seed 0, tracked). Round 13 (after round
# 11): warm and punchy at 4x (445 steps, seed 0, tracked), two at a time. Round 14 (after 13,
# beside CI): cool_matte at 2x, seeds 1 and 2, tracked.
# Round 15 (a later session, 2026-12-06): warm and punchy at 2x (266 steps, seed 0, tracked), one after
# the other on one core (the other core ran head-alone prototypes for the defects).
# Round 16 (beside round 15): the head alone on quantile-transfer pairs (benchmarks/quantile_pairs.py),
# two at a time: the deconvolved shrink on the defects (with and without pixel statistics), shrink 0
# on the three looks (the product's inputs), 3 seeds; the cross-ablations on seed 0.
# Round 20: the product with the "fixes" preset; round 21: with weight decay on the head (see the end).
# Usage: bash benchmarks/run_issue9_session26.sh ROUND
set -euo pipefail
cd "$(dirname "$0")/.."
Q="${PYTHON:-.venv/bin/python} benchmarks/quality.py"
mkdir -p benchmarks/out/logs
run() {  # look, name, steps, then more train arguments
  local look=$1 name=$2 steps=$3; shift 3
  $Q --out "benchmarks/out/$look" train "$name" --product-steps "$steps" --threads 1 --log-every 10 \
    --compare-exports "$@" > "benchmarks/out/logs/${look}_${name}.log" 2>&1
}
if [ "${1:-2}" = 1 ]; then
  run punchy idt25cc10_445_s0 445 --track-test --set lambda_idt=25 --set lambda_cc=10 &
  run punchy idt100_445_s0 445 --track-test --set lambda_idt=100 &
  run punchy idt100cc40_445_s0 445 --track-test --set lambda_idt=100 --set lambda_cc=40 &
  wait
fi
if [ "${1:-2}" = 2 ]; then
  export -f run; export Q
  for s in 0 1 2; do
    for look in warm cool_matte punchy; do echo "$look adv005_133_s$s 133 --seed $s"; done
    [ "$s" = 0 ] && echo "punchy adv005_175_s0 175 --seed 0 --track-test"
    [ "$s" = 1 ] && echo "punchy adv005_445_s1 445 --seed 1 --track-test"
  done | xargs -P 3 -L 1 bash -c 'run "$@" --set lambda_adv=0.05' _
fi
if [ "${1:-2}" = 3 ]; then
  run punchy adv005_175_s0 175 --seed 0 --track-test &
  run warm adv005_445_s0 445 --seed 0 --track-test &
  run cool_matte adv005_445_s0 445 --seed 0 --track-test &
  wait
fi
if [ "${1:-2}" = 4 ] || [ "${1:-2}" = 5 ]; then
  export -f run; export Q
  if [ "$1" = 4 ]; then
    echo "cool_matte fits8_445_s0 445 --seed 0 --track-test"
    for s in 0 1 2; do
      for look in warm cool_matte punchy; do echo "$look fits8_133_s$s 133 --seed $s"; done
    done
  else
    for s in 0 1 2; do echo "defects fits8_133_s$s 133 --seed $s"; done
    echo "cool_matte fits8_266_s0 266 --seed 0 --track-test"
    for s in 1 2; do echo "cool_matte fits8_445_s$s 445 --seed $s --track-test"; done
  fi | xargs -P 3 -L 1 bash -c 'run "$@"' _
fi
if [ "${1:-2}" = 6 ]; then
  export -f run; export Q
  {
    echo "cool_matte adv002_445_s0 445 --seed 0 --track-test"
    for look in cool_matte warm punchy; do echo "$look adv002_133_s0 133 --seed 0"; done
    for s in 1 2; do echo "cool_matte adv002_445_s$s 445 --seed $s --track-test"; done
    for s in 1 2; do
      for look in warm cool_matte punchy; do echo "$look adv002_133_s$s 133 --seed $s"; done
    done
  } | xargs -P 3 -L 1 bash -c 'run "$@" --set lambda_adv=0.02' _
fi
if [ "${1:-2}" = 7 ]; then
  run cool_matte adv002_445_s0 445 --seed 0 --track-test --set lambda_adv=0.02 &
  run cool_matte unetmean10_445_s0 445 --seed 0 --track-test --set lambda_unet_mean=10 &
  wait
fi
if [ "${1:-2}" = 8 ]; then
  export -f run; export Q
  {
    for s in 0 1 2; do
      for look in cool_matte warm punchy; do echo "$look unetmean10_133_s$s 133 --seed $s"; done
    done
    for s in 1 2; do echo "cool_matte unetmean10_445_s$s 445 --seed $s --track-test"; done
  } | xargs -P 2 -L 1 bash -c 'run "$@" --set lambda_unet_mean=10' _
fi
if [ "${1:-2}" = 9 ]; then
  run defects unetmean10_133_s0 133 --seed 0 --set lambda_unet_mean=10
fi
if [ "${1:-2}" = 10 ]; then
  export -f run; export Q
  {
    for look in cool_matte warm punchy; do echo "$look unetmean10_133_s2 133 --seed 2"; done
    for s in 1 2; do echo "cool_matte unetmean10_445_s$s 445 --seed $s --track-test"; done
  } | xargs -P 3 -L 1 bash -c 'run "$@" --set lambda_unet_mean=10' _
fi
if [ "${1:-2}" = 11 ]; then
  for s in 1 2; do
    run cool_matte unetmean10_445_s$s 445 --seed $s --track-test --set lambda_unet_mean=10 &
  done
  wait
fi
if [ "${1:-2}" = 12 ]; then
  run cool_matte unetmean10_266_s0 266 --seed 0 --track-test --set lambda_unet_mean=10
fi
if [ "${1:-2}" = 13 ]; then
  for look in warm punchy; do
    run $look unetmean10_445_s0 445 --seed 0 --track-test --set lambda_unet_mean=10 &
  done
  wait
fi
if [ "${1:-2}" = 14 ]; then
  for s in 1 2; do
    run cool_matte unetmean10_266_s$s 266 --seed $s --track-test --set lambda_unet_mean=10 &
  done
  wait
fi
if [ "${1:-2}" = 15 ]; then
  for look in warm punchy; do
    run $look unetmean10_266_s0 266 --seed 0 --track-test --set lambda_unet_mean=10
  done
fi
if [ "${1:-2}" = 16 ]; then
  P="${PYTHON:-.venv/bin/python} benchmarks/quantile_pairs.py"
  for s in 0 1 2; do
    echo "--out benchmarks/out/defects --pixel-stats --seed $s"
    echo "--out benchmarks/out/defects --seed $s"
    for look in warm cool_matte punchy; do echo "--out benchmarks/out/$look --shrink 0 --seed $s"; done
  done > benchmarks/out/logs/quantile_pairs.args
  { echo "--out benchmarks/out/defects --pixel-stats --shrink 0 --seed 0"
    echo "--out benchmarks/out/warm --seed 0"; } >> benchmarks/out/logs/quantile_pairs.args
  xargs -P 2 -L 1 $P < benchmarks/out/logs/quantile_pairs.args > benchmarks/out/logs/quantile_pairs.log 2>&1
fi
# Round 17 (after round 16's last runs started; 2026-12-06): quantile_pairs.py with the folders'
# difference between their pooled quantile functions (--pooled), seed 0: shrink 0 on the three
# looks, the deconvolved shrink on the defects (pixel statistics); two at a time.
if [ "${1:-2}" = 17 ]; then
  P="${PYTHON:-.venv/bin/python} benchmarks/quantile_pairs.py"
  { for look in punchy cool_matte warm; do echo "--out benchmarks/out/$look --shrink 0 --pooled --seed 0"; done
    echo "--out benchmarks/out/defects --pixel-stats --pooled --seed 0"; } > benchmarks/out/logs/quantile_pairs_pooled.args
  xargs -P 2 -L 1 $P < benchmarks/out/logs/quantile_pairs_pooled.args > benchmarks/out/logs/quantile_pairs_pooled.log 2>&1
fi
# Round 18 (after round 17's last runs started): quantile_pairs.py with one fixed share of 0.2 at
# every level (--shrink 0.2: the deconvolved share of the defects is what two halves of one folder
# give by chance), seed 0, the four tasks; two at a time.
if [ "${1:-2}" = 18 ]; then
  P="${PYTHON:-.venv/bin/python} benchmarks/quantile_pairs.py"
  { echo "--out benchmarks/out/defects --pixel-stats --shrink 0.2 --seed 0"
    for look in warm cool_matte punchy; do echo "--out benchmarks/out/$look --shrink 0.2 --seed 0"; done
  } > benchmarks/out/logs/quantile_pairs_share.args
  xargs -P 2 -L 1 $P < benchmarks/out/logs/quantile_pairs_share.args > benchmarks/out/logs/quantile_pairs_share.log 2>&1
fi
# Round 19 (beside a CI run): the flat share of 0.2 on the three looks with pixel statistics (the
# inputs of the defects' rows), seed 0, one at a time.
if [ "${1:-2}" = 19 ]; then
  for look in warm cool_matte punchy; do
    ${PYTHON:-.venv/bin/python} benchmarks/quantile_pairs.py --out benchmarks/out/$look --shrink 0.2 --pixel-stats \
      --seed 0 >> benchmarks/out/logs/quantile_pairs_share_px.log 2>&1
  done
fi
# Round 20 (a later session, 2026-12-06): the product with the "fixes" preset (quantile-transfer
# pairs, the head seeing pixel statistics), two at a time: the defects at 1x (133 steps, 3 seeds),
# 2x (266) and 4x (532, seed 0, tracked); the three looks at 1x (seed 0: a look taught with the
# wrong preset).
if [ "${1:-2}" = 20 ]; then
  export -f run; export Q
  { echo "defects fixes_133_s0 133 --preset fixes --seed 0"
    echo "defects fixes_532_s0 532 --preset fixes --seed 0 --track-test"
    for s in 1 2; do echo "defects fixes_133_s$s 133 --preset fixes --seed $s"; done
    for look in warm cool_matte punchy; do echo "$look fixes_133_s0 133 --preset fixes --seed 0"; done
    echo "defects fixes_266_s0 266 --preset fixes --seed 0 --track-test"
  } | xargs -P 2 -L 1 bash -c 'run "$@"' _
fi
# Round 21 (a later session, 2026-12-06): the fixes preset with weight decay 1.0 on the head's updates
# (head_weight_decay, in the preset since): the defects at 4x (532 steps, seed 0, tracked), 1x (133
# steps, 3 seeds) and 2x (266 steps, seed 0, tracked), two at a time.
if [ "${1:-2}" = 21 ]; then
  export -f run; export Q
  { echo "defects fixeswd_532_s0 532 --preset fixes --seed 0 --track-test"
    for s in 0 1 2; do echo "defects fixeswd_133_s$s 133 --preset fixes --seed $s"; done
    echo "defects fixeswd_266_s0 266 --preset fixes --seed 0 --track-test"
  } | xargs -P 2 -L 1 bash -c 'run "$@"' _
fi
# Round 22 (after round 21, the same session): the fixes preset at 2x, seeds 1 and 2 (266 steps,
# tracked), two at a time (started by hand with these commands, beside the end of round 21 and a CI
# run); seed 2 was stopped at step 67 for the session's time.
if [ "${1:-2}" = 22 ]; then
  for s in 1 2; do run defects fixeswd_266_s$s 266 --preset fixes --seed $s --track-test & done
  wait
fi
# Round 23 (a later session, 2026-12-07): the fixes preset with its weight decay, what rounds 21 and
# 22 left: the defects at 2x (266 steps, seed 2) and 4x (532 steps, seeds 1 and 2), tracked; then
# the three looks at 1x (133 steps, seed 0: a look taught with the wrong preset, since the decay).
# Two at a time.
if [ "${1:-2}" = 23 ]; then
  export -f run; export Q
  { echo "defects fixeswd_532_s1 532 --preset fixes --seed 1 --track-test"
    echo "defects fixeswd_266_s2 266 --preset fixes --seed 2 --track-test"
    echo "defects fixeswd_532_s2 532 --preset fixes --seed 2 --track-test"
    for look in warm cool_matte punchy; do echo "$look fixeswd_133_s0 133 --preset fixes --seed 0"; done
  } | xargs -P 2 -L 1 bash -c 'run "$@"' _
fi
# Round 24 (a later session, 2026-12-07): the fixes preset with its head's budget of 2128 updates
# (head_updates, in the preset since; 133 steps' worth, so 1x is round 21's runs unchanged): the
# defects at 4x (532 steps, 3 seeds) and 2x (266 steps, seed 2, the seed that fell at 2x), tracked,
# three at a time (beside a CI run and head-alone runs at the end). Seeds 0 and 1 at 2x were started
# by hand beside seed 2 and stopped at once for the session's time.
if [ "${1:-2}" = 24 ]; then
  export -f run; export Q
  { for s in 0 1 2; do echo "defects fixesbud_532_s$s 532 --preset fixes --seed $s --track-test"; done
    echo "defects fixesbud_266_s2 266 --preset fixes --seed 2 --track-test"
  } | xargs -P 3 -L 1 bash -c 'run "$@"' _
fi
# Round 25 (a later session, 2026-12-07): the fixes preset with generic defects on half of its
# head's pairs (head_generic_defects 0.5; BENCHMARKS.md "Generic defects"), with the 8 passes of
# quantile pairs of then: the defects at 4x (532 steps, seed 0, tracked) and 1x (133 steps, 3 seeds),
# three at a time. The 4x run was stopped at step 20 (round 26 ran 4x with the preset as shipped).
if [ "${1:-2}" = 25 ]; then
  export -f run; export Q
  { echo "defects generic_532_s0 532 --preset fixes --set head_generic_defects=0.5 --seed 0 --track-test"
    for s in 0 1 2; do echo "defects generic_133_s$s 133 --preset fixes --set head_generic_defects=0.5 --seed $s"; done
  } | xargs -P 3 -L 1 bash -c 'run "$@"' _
fi
# Round 26 (the same session, after round 25): quantile pairs with 16 passes over the high folder
# (768 pairs aimed at, color.py; round 25's runs had 8) and the generic defects: the fixes preset as
# shipped since. The defects at 1x (133 steps, 3 seeds) and 4x (532 steps, seed 0, tracked), four at
# a time (the 4x run beside the others).
if [ "${1:-2}" = 26 ]; then
  export -f run; export Q
  { echo "defects generic16_532_s0 532 --preset fixes --seed 0 --track-test"
    for s in 0 1 2; do echo "defects generic16_133_s$s 133 --preset fixes --seed $s"; done
  } | xargs -P 4 -L 1 bash -c 'run "$@"' _
fi
# Round 27 (a later session, 2026-12-07): goal 4 for the fixes preset as shipped (generic defects,
# 16 passes): the defects at 4x (532 steps, seeds 1 and 2) and 2x (266 steps, 3 seeds), tracked,
# three at a time.
if [ "${1:-2}" = 27 ]; then
  export -f run; export Q
  { for s in 1 2; do echo "defects generic16_532_s$s 532 --preset fixes --seed $s --track-test"; done
    for s in 0 1 2; do echo "defects generic16_266_s$s 266 --preset fixes --seed $s --track-test"; done
  } | xargs -P 3 -L 1 bash -c 'run "$@"' _
fi
# Round 28 (a later session, 2026-12-07): goal 3 at the literal budget, as a user runs it: the
# fixes preset with --minutes 15 (not a fixed step count) on the defects, 3 seeds, one run at a
# time with two threads on an otherwise idle machine (seed 0 was started by hand, the others after it
# by the same command).
if [ "${1:-2}" = 28 ]; then
  for s in 0 1 2; do
    $Q --out benchmarks/out/defects train "fixes15min_s$s" --minutes 15 --preset fixes --threads 2 --seed "$s" \
      --log-every 10 > "benchmarks/out/logs/defects_fixes15min_s$s.log" 2>&1
  done
fi
# Round 29 (the same session, after round 28 and a CI run): the default preset at the literal
# budget, seed 0, alone with two threads: how many steps --minutes 15 gives a user, where the
# looks' rows use a fixed 133. Punchy (the look with the lowest gain), then warm.
if [ "${1:-2}" = 29 ]; then
  for look in punchy warm; do
    $Q --out "benchmarks/out/$look" train default15min_s0 --minutes 15 --threads 2 --seed 0 --log-every 10 \
      > "benchmarks/out/logs/${look}_default15min_s0.log" 2>&1
  done
fi
# Round 30 (a later session, 2026-12-07): the fixes preset with the head regressed by each pair's
# log(MSE + 3e-4) (minus its PSNR, floored) instead of the L2 (head_log_floor; BENCHMARKS.md,
# "The head regressed by each pair's PSNR"), 133 steps, 3 seeds, three at a time. Not kept: the
# option was removed after this round (run it at commit 1b22e63).
if [ "${1:-2}" = 30 ]; then
  export -f run; export Q
  for s in 0 1 2; do echo "defects log3e-4_133_s$s 133 --preset fixes --seed $s --set head_log_floor=3e-4"; done \
    | xargs -P 3 -L 1 bash -c 'run "$@"' _
fi
# Round 31 (the same session, after round 30): the default preset at the literal budget, alone with
# two threads, as round 29: cool_matte seed 0, then punchy
# (the look with the lowest gain) seeds 1 and 2, so that one look has all 3 seeds at --minutes 15.
if [ "${1:-2}" = 31 ]; then
  for job in cool_matte:0 punchy:1 punchy:2; do
    look=${job%:*} s=${job#*:}
    $Q --out "benchmarks/out/$look" train "default15min_s$s" --minutes 15 --threads 2 --seed "$s" --log-every 10 \
      > "benchmarks/out/logs/${look}_default15min_s$s.log" 2>&1
  done
fi
# Round 32 (the same session, after round 31 and a CI run): warm seeds 1 and 2 at the literal budget,
# alone with two threads, as round 31, so that a second look has all 3 seeds at --minutes 15.
if [ "${1:-2}" = 32 ]; then
  for s in 1 2; do
    $Q --out benchmarks/out/warm train "default15min_s$s" --minutes 15 --threads 2 --seed "$s" --log-every 10 \
      > "benchmarks/out/logs/warm_default15min_s$s.log" 2>&1
  done
fi
# Round 33 (a later session, 2026-12-07): cool_matte seeds 1 and 2 at the literal budget, alone
# with two threads, as rounds 31 and 32, so that all three looks have 3 seeds at --minutes 15.
if [ "${1:-2}" = 33 ]; then
  for s in 1 2; do
    $Q --out benchmarks/out/cool_matte train "default15min_s$s" --minutes 15 --threads 2 --seed "$s" --log-every 10 \
      > "benchmarks/out/logs/cool_matte_default15min_s$s.log" 2>&1
  done
fi
