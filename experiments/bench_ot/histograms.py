r"""Speed benchmark, general weights: exact OT between 28x28 image histograms.

Work: ``--num_pairs`` random pairs of Fashion-MNIST training images, each image
normalised to unit mass (a 784-bin histogram with many empty bins), ground cost
the squared Euclidean distance between pixel positions in pixel units (the DWE
targets ``W_2^2``). Float64 throughout.

For each pair, interleaved in this one process (so load changes on a shared
machine hit both alike):

- POT ``ot.emd2(a, b, C)`` (network simplex, C++);
- ``wassml.ot.emd(C, a, b)`` jitted (general-weights host path: column
  generation with HiGHS and a dual certificate, ``wassml.ot.colgen``), after one
  warm-up call for compilation.

Reported: per-pair times, the median of the per-pair ratios wassml / POT, the
ratio of total times, the largest absolute value difference, the LP rounds
(``num_iters``) and whether every solve certified optimality (``converged``).
``--dense_pairs`` pairs are also solved by the previous general-weights path (one
dense HiGHS LP over all 784 x 784 edges, as in ``wassml.ot.emd`` before column
generation) for comparison.

Usage:
  python -m experiments.bench_ot.histograms --workdir=runs/bench_ot_hist [--num_pairs=50]
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS


def dense_highs(cost, a, b):
  """The previous general-weights path: one HiGHS LP over all edges (exact, slow)."""
  import numpy as np
  import scipy.sparse as sp
  from scipy.optimize import linprog

  n, m = cost.shape
  rows_a = sp.kron(sp.eye(n), np.ones((1, m)))
  cols_b = sp.kron(np.ones((1, n)), sp.eye(m))
  A = sp.vstack([rows_a, cols_b.tocsr()[: m - 1]]).tocsc()
  res = linprog(cost.ravel(), A_eq=A, b_eq=np.concatenate([a, b[: m - 1]]), bounds=(0, None),
                method="highs", options={"primal_feasibility_tolerance": 1e-10,
                                         "dual_feasibility_tolerance": 1e-10})
  return float(res.fun)


def main(argv):
  del argv
  import jax
  jax.config.update("jax_enable_x64", True)
  import numpy as np
  import ot
  from tqdm.auto import tqdm

  import wassml.ot as wot
  from wassml.data.fashion_mnist import fashion_mnist
  from wassml.embedding.pairs import grid_cost

  os.makedirs(FLAGS.workdir, exist_ok=True)
  ds = fashion_mnist("train")
  images = np.asarray(ds.x, np.float64).reshape(len(ds.x), 28, 28)
  images = images[:, :FLAGS.side, :FLAGS.side].reshape(len(images), -1)
  cost = np.asarray(grid_cost(FLAGS.side), np.float64)
  rng = np.random.default_rng(FLAGS.seed)
  pairs = []
  while len(pairs) < FLAGS.num_pairs:
    i, j = rng.integers(0, len(images), 2)
    if images[i].sum() > 0 and images[j].sum() > 0:
      pairs.append((int(i), int(j)))

  solve = jax.jit(lambda c, a, b: wot.emd(c, a, b))
  hist = lambda i: images[i] / images[i].sum()
  jax.block_until_ready(solve(cost, hist(pairs[0][0]), hist(pairs[0][1])))  # compile

  rows = []
  for i, j in tqdm(pairs, desc="pairs"):
    a, b = hist(i), hist(j)
    t0 = time.perf_counter()
    pot_val = float(ot.emd2(a, b, cost))
    t1 = time.perf_counter()
    res = jax.block_until_ready(solve(cost, a, b))
    t2 = time.perf_counter()
    rows.append({"i": i, "j": j, "nnz_a": int((a > 0).sum()), "nnz_b": int((b > 0).sum()),
                 "pot_s": t1 - t0, "wassml_s": t2 - t1, "pot_value": pot_val,
                 "wassml_value": float(res.transport_cost), "rounds": int(res.num_iters),
                 "converged": bool(res.converged)})

  dense = []
  for i, j in pairs[:FLAGS.dense_pairs]:
    a, b = hist(i), hist(j)
    t0 = time.perf_counter()
    val = dense_highs(cost, a, b)
    t1 = time.perf_counter()
    dense.append({"i": i, "j": j, "dense_highs_s": t1 - t0, "value": val,
                  "abs_diff_vs_pot": abs(val - ot.emd2(a, b, cost))})
    print(f"dense HiGHS pair ({i}, {j}): {t1 - t0:.1f} s", flush=True)

  ratios = [r["wassml_s"] / r["pot_s"] for r in rows]
  diffs = [abs(r["wassml_value"] - r["pot_value"]) for r in rows]
  summary = {
      "num_pairs": len(rows),
      "median_ratio_wassml_over_pot": statistics.median(ratios),
      "ratio_total_time": sum(r["wassml_s"] for r in rows) / sum(r["pot_s"] for r in rows),
      "median_pot_s": statistics.median(r["pot_s"] for r in rows),
      "median_wassml_s": statistics.median(r["wassml_s"] for r in rows),
      "max_abs_value_diff_vs_pot": max(diffs),
      "max_rel_value_diff_vs_pot": max(d / abs(r["pot_value"]) for d, r in zip(diffs, rows)),
      "all_converged": all(r["converged"] for r in rows),
      "rounds_histogram": {str(k): sum(r["rounds"] == k for r in rows)
                           for k in sorted({r["rounds"] for r in rows})},
      "median_nnz": statistics.median(r["nnz_a"] for r in rows),
  }
  if dense:
    summary["dense_highs_median_s"] = statistics.median(d["dense_highs_s"] for d in dense)
    summary["dense_highs_max_abs_diff_vs_pot"] = max(d["abs_diff_vs_pot"] for d in dense)
    idx = {(r["i"], r["j"]): r for r in rows}
    summary["dense_over_wassml_same_pairs"] = [
        d["dense_highs_s"] / idx[(d["i"], d["j"])]["wassml_s"] for d in dense]
  meta = {
      "command": " ".join([os.path.basename(sys.executable), "-m", "experiments.bench_ot.histograms"]
                          + sys.argv[1:]),
      "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
      "machine": platform.processor() or platform.machine(),
      "cpu_count": os.cpu_count(),
      "load_avg_end": os.getloadavg(),
      "versions": {"jax": jax.__version__, "pot": ot.__version__, "numpy": np.__version__},
  }
  out = {"summary": summary, "pairs": rows, "dense_highs": dense, "meta": meta}
  with open(os.path.join(FLAGS.workdir, "results.json"), "w") as fh:
    json.dump(out, fh, indent=1)
  print(json.dumps(summary, indent=1))


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  flags.DEFINE_string("workdir", None, "Where to write results.json.")
  flags.DEFINE_integer("num_pairs", 50, "Image pairs timed (interleaved POT / wassml).")
  flags.DEFINE_integer("dense_pairs", 2, "Pairs also solved by the old dense HiGHS LP.")
  flags.DEFINE_integer("seed", 0, "Pair seed.")
  flags.DEFINE_integer("side", 28, "Crop/keep images of side x side (28: full images).")
  flags.mark_flag_as_required("workdir")
  app.run(main)
