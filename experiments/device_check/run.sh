#!/usr/bin/env bash
# One prepared GPU check for a lent device machine (see experiments/device_check/README.md).
#
# Runs from the repository root with the machine's own python3 (jax with CUDA), after the wheels
# of what that image lacks (ott-jax, jaxopt, POT, ml_collections) are installed to /tmp/site:
#   1. environment: GPU, driver, package versions, jax backend;
#   2. experiments.bench_ot.main: the default calls of wassml.ot vs a POT loop vs ott-jax (defaults
#      and kernel mode), 8 x 500 and 1 x 2000, exact (host path and the JAX auction, both
#      batchings), balanced and unbalanced Sinkhorn, every explicit mode and the equal-work columns
#      (issue #25: under 5 minutes);
#   3. experiments.domain_adaptation.bench_step: one JUMBOT step, plan in the jitted step vs POT on
#      the host;
#   4. experiments.bench_train.main (issue #23): the SmallCNN CCE and VAT epochs, the JUMBOT step
#      and a 3-seed SmallCNN run under each execution of wassml.train.train_loop (host / vmap /
#      scan; "auto" picks scan on a GPU), on Fashion-MNIST when WASSML_DATA_DIR holds it, else
#      random images of its shape; the PyTorch columns only if the image has torch (under 5 min);
#   5. the core test files on the GPU backend (full log in $OUT/tests.log). After the precision
#      policy of wassml/utils/linalg.py, all of them are expected to pass at JAX's default (TF32)
#      precision; the 2026-12-04 run predates it (7 of 207 failed, results/h200/README.md);
#   6. when WASSML_DATA_DIR holds Fashion-MNIST: the paper-scale noisy-labels config, shortened.
# Every section has its own time limit and writes under $OUT (default runs/device_check), so one
# section's failure or timeout still leaves the others' results. Sizes can be shrunk for a dry run
# on the CPU with the *_ARGS / T_* variables.
set -u
OUT=${OUT:-runs/device_check}
PY=${PY:-python3}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MPLBACKEND=Agg
export XLA_PYTHON_CLIENT_PREALLOCATE=false   # several test workers share one GPU
LOG=$OUT/log.txt
T0=$SECONDS
section() { echo "=== $1 (t=$((SECONDS - T0)) s, $(date -u +%H:%M:%S) UTC)" | tee -a "$LOG"; }

section environment
{ nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv 2>&1
  nproc
  $PY - <<'PYEOF'
import platform, jax, flax, optax, ott, ot, numpy
print("python", platform.python_version(), "| jax", jax.__version__, "| backend", jax.default_backend(),
      "| devices", jax.devices(), "| flax", flax.__version__, "| optax", optax.__version__,
      "| ott-jax", ott.__version__, "| POT", ot.__version__, "| numpy", numpy.__version__)
PYEOF
} 2>&1 | tee -a "$LOG"

section bench_ot
timeout "${T_BENCH_OT:-240}" $PY -m experiments.bench_ot.main --workdir="$OUT/bench_ot" \
  --single_thread=false ${BENCH_OT_ARGS:---repeats=3 --sizes=8x500,1x2000} 2>&1 | grep -v "^\s*$" | tee -a "$LOG"

section bench_step
timeout "${T_BENCH_STEP:-110}" $PY -m experiments.domain_adaptation.bench_step \
  --workdir="$OUT/bench_step" ${BENCH_STEP_ARGS:---batch=500 --rounds=5 --warmup=2} 2>&1 | tee -a "$LOG"

section bench_train
BT_DATA=random
if [ -n "${WASSML_DATA_DIR:-}" ]; then BT_DATA=fashion_mnist; fi
timeout "${T_BENCH_TRAIN:-280}" $PY -m experiments.bench_train.main --workdir="$OUT/bench_train" \
  --data="$BT_DATA" ${BENCH_TRAIN_ARGS:---rows=smallcnn_cce_epoch,smallcnn_vat_epoch,jumbot_step,executions --rounds=2 --exec_steps=200} \
  2>&1 | grep -v "^\s*$" | tee -a "$LOG"

section tests
timeout "${T_TESTS:-150}" $PY -m pytest -p no:cacheprovider -n "${TEST_WORKERS:-14}" -q -rfE --tb=short \
  --junitxml="$OUT/junit.xml" ${TESTS:-tests/test_ot_exact.py tests/test_ot_sinkhorn.py \
  tests/test_ot_minibatch.py tests/test_ot_misc.py tests/test_train.py tests/test_train_parallel.py \
  tests/test_regularization.py tests/test_clustering_wamic.py tests/test_domain_adaptation_core.py \
  tests/test_precision.py tests/test_active_learning_kfac.py tests/test_clustering_gmm.py} \
  2>&1 | tee "$OUT/tests.log" | tail -n 60 | tee -a "$LOG"

section paper_scale
# Issue #5 asks that the paper-scale noisy-labels config runs on a GPU. It needs Fashion-MNIST,
# which the device image lacks: carry the IDX files and point WASSML_DATA_DIR at them (README).
# Everything of configs/default.py except the length (PAPER_ARGS): full data, SmallCNN, batch 256,
# the three noise settings, CCE / VAT / WAR; the epoch times in the log size a full run.
FM=train-images-idx3-ubyte.gz
if [ -n "${WASSML_DATA_DIR:-}" ] && { [ -f "$WASSML_DATA_DIR/$FM" ] || [ -f "$WASSML_DATA_DIR/fashion-mnist/$FM" ]; }; then
  timeout "${T_PAPER:-180}" $PY -m experiments.noisy_labels.main \
    --config=experiments/noisy_labels/configs/default.py --workdir="$OUT/noisy_labels_paper" \
    ${PAPER_ARGS:---config.num_epochs=3 --config.warmup_epochs=1 --config.num_seeds=1 --config.progress=false} \
    2>&1 | tail -n 20 | tee -a "$LOG"
else
  echo "skipped: WASSML_DATA_DIR does not hold the Fashion-MNIST IDX files" | tee -a "$LOG"
fi

section done
