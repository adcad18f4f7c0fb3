"""Side measurement: the DeepFool batch driver before this change (fixed-trip masked loop, chunks of 256, from git)
against the current one (compacted early-stopping chunks of 64), on the benchmark's models, same process.

Usage (from the repository root):

  PYTHONPATH=. python experiments/active_learning/results/query_time/compare_old_new.py \
      --config=experiments/active_learning/configs/query_time.py --num_candidates=256 --out=<file.json>
"""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np
from absl import app, flags
from ml_collections import config_flags

from experiments.active_learning import train
from wassml.active_learning import Classifier, training
from wassml.active_learning import deepfool as new_lib

OLD_COMMIT = "7291e4c"  # the last commit with the fixed-trip driver
FLAGS = flags.FLAGS


def _old_module():
  src = subprocess.run(["git", "show", f"{OLD_COMMIT}:wassml/active_learning/deepfool.py"], check=True,
                       capture_output=True, text=True).stdout
  path = os.path.join(tempfile.mkdtemp(), "old_deepfool.py")
  with open(path, "w") as f:
    f.write(src)
  spec = importlib.util.spec_from_file_location("old_deepfool", path)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod


def _timed(fn):
  c0, t0 = os.times(), time.perf_counter()
  res = fn()
  jax.block_until_ready(res.norm)
  c1 = os.times()
  return res, time.perf_counter() - t0, (c1.user + c1.system) - (c0.user + c0.system)


def main(argv):
  del argv
  config = FLAGS.config
  old_lib = _old_module()
  x, y, _, _, num_classes = train.load_data(config)
  module = train.make_model(config.model, num_classes, config)
  b = config.benchmark
  rng = np.random.default_rng(config.seed + 5)  # the benchmark's draws of L and U
  rows = []
  for n_l in b.labelled_sizes:
    perm = rng.permutation(len(x))
    lab, cand = perm[:n_l], perm[n_l : n_l + FLAGS.num_candidates]
    v = training.fit_seeds(jax.random.split(jax.random.key(n_l), 1), module, x[None, lab], y[None, lab],
                           np.array([n_l]), num_steps=b.train_steps, batch_size=config.batch_size)
    clf = Classifier(module, training.unstack(v, 0))
    row = {"labelled": int(n_l), "candidates": int(len(cand))}
    results = {}
    for name, lib in (("old", old_lib), ("new", new_lib)):
      call = lambda lib=lib: lib.deepfool_batch(clf.example_logits, clf.variables, x[cand], max_iters=10)  # noqa: E731
      _, first, first_cpu = _timed(call)
      results[name], wall, cpu = _timed(call)
      row.update({f"{name}_first_call_seconds": first, f"{name}_first_call_cpu_seconds": first_cpu,
                  f"{name}_seconds": wall, f"{name}_cpu_seconds": cpu})
      print(n_l, name, row, flush=True)
    o, n = results["old"], results["new"]
    row["cpu_speedup"] = row["old_cpu_seconds"] / row["new_cpu_seconds"]
    row["same_num_iters"] = bool(np.array_equal(np.asarray(o.num_iters), np.asarray(n.num_iters)))
    row["same_flipped"] = bool(np.array_equal(np.asarray(o.flipped), np.asarray(n.flipped)))
    row["same_labels"] = bool(np.array_equal(np.asarray(o.adversarial_label), np.asarray(n.adversarial_label)))
    row["max_rel_norm_difference"] = float(np.max(np.abs(np.asarray(o.norm) - np.asarray(n.norm))
                                                  / np.maximum(np.asarray(o.norm), 1e-12)))
    order_o, order_n = (np.argsort(np.where(np.asarray(r.flipped), np.asarray(r.norm), np.inf), kind="stable")[:10]
                        for r in (o, n))
    row["same_10_queries"] = bool(np.array_equal(order_o, order_n))
    rows.append(row)
  out = {"rows": rows, "old_commit": OLD_COMMIT, "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
         "machine": train._machine()}  # noqa: SLF001
  with open(FLAGS.out, "w") as f:
    json.dump(out, f, indent=1)
  print(json.dumps(rows, indent=1))


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  config_flags.DEFINE_config_file("config", None, "The benchmark config.")
  flags.DEFINE_integer("num_candidates", 256, "Candidates attacked.")
  flags.DEFINE_string("out", None, "Output JSON.", required=True)
  sys.exit(app.run(main))
