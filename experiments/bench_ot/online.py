r"""Benchmark of ``wassml.ot.online_sinkhorn``: balanced Sinkhorn between large point clouds
without the ``n x m`` matrix.

Problem: ``n`` source and ``m`` target points in ``d`` dimensions (class-clustered features as in
``experiments/bench_ot/data.py``: 10 Gaussian centres, noise 0.7, target shifted by 0.3), uniform
weights, squared Euclidean cost, float32. The regularisation is relative to the mean cost,
stated explicitly: ``epsilon = eps_rel * mean_ij ||x_i - y_j||^2`` (ott-jax's default relative
epsilon is ``0.05 * mean(C)``, hence ``--eps_rel=0.05``); the mean is computed exactly without
the matrix, ``mean|x|^2 + mean|y|^2 - 2 mean(x).mean(y)``, and the absolute ``epsilon`` is
written to the results.

Reported in ``<workdir>/results.json``:

- ``compile_s``: compilation of the jitted solve;
- ``solve_s``, ``iterations``, ``converged``, ``error``: one solve to ``tol`` (default
  ``wassml.ot.iteration.default_tol(float32) = 1e-5`` on the L1 row-marginal error), capped at
  ``--num_iters``;
- ``time_per_iteration_s``: ``(t(k0 + k) - t(k0)) / k`` from two solves of exactly ``k0 = 2``
  and ``k0 + k`` iterations (``tol = 0``; ``k = --timing_iters``), so the fixed work (the first
  ``f`` update, the blocked transport cost and objective) cancels;
- ``peak_rss_bytes``: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after the online solves
  (the process peak, JAX runtime included), ``rss_before_solve_bytes`` the same before them, and
  their difference; against ``dense_cost_matrix_float32_bytes = 4 n m`` (what the cost matrix
  alone would take; a dense Sinkhorn also needs its kernel or plan, another ``4 n m``) and
  ``tile_bytes = 4 * block_size * max(n, m)`` (one live tile of the online solve). On an
  accelerator, ``device_peak_bytes`` is the device allocator's peak (``memory_stats``);
- with ``--dense_check`` (only where ``n m <= 4000^2``), the dense ``wassml.ot.sinkhorn`` on the
  formed cost, for the transport cost difference and its own time, after the memory reading.

Usage (the 20k case: about ``4e8`` pairs, so each iteration is two passes of ``2.6e10``
multiply-adds and ``4e8`` exponentials):

  python -m experiments.bench_ot.online --workdir=runs/bench_ot_online
  python -m experiments.bench_ot.online --workdir=/tmp/bench_online_2k --n=2000 --dense_check
"""

from __future__ import annotations

import json
import os
import platform
import resource
import time

from absl import app, flags

FLAGS = flags.FLAGS


def _maxrss_bytes():
  r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  return int(r) * (1 if platform.system() == "Darwin" else 1024)   # Linux reports KiB


def make_clouds(seed, n, m, d):
  """Class-clustered ``[n, d]`` source and ``[m, d]`` target points (float32)."""
  import numpy as np

  rng = np.random.default_rng(seed)
  means = rng.normal(size=(10, d))
  xs = means[rng.integers(0, 10, n)] + 0.7 * rng.normal(size=(n, d))
  xt = means[rng.integers(0, 10, m)] + 0.7 * rng.normal(size=(m, d)) + 0.3
  return xs.astype(np.float32), xt.astype(np.float32)


def mean_sqeuclidean(x, y):
  """``mean_ij ||x_i - y_j||^2`` in float64 without forming the matrix."""
  import numpy as np

  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  return float(np.mean(np.sum(x * x, 1)) + np.mean(np.sum(y * y, 1))
               - 2.0 * x.mean(0) @ y.mean(0))


def main(argv):
  del argv
  import jax
  jax.config.update("jax_enable_compilation_cache", False)   # honest compile times
  import jax.numpy as jnp

  import wassml.ot as wot
  from wassml.ot.iteration import default_tol

  n = FLAGS.n
  m = FLAGS.m if FLAGS.m is not None else n
  d = FLAGS.d
  os.makedirs(FLAGS.workdir, exist_ok=True)
  xs_np, xt_np = make_clouds(FLAGS.seed, n, m, d)
  mean_cost = mean_sqeuclidean(xs_np, xt_np)
  eps = FLAGS.eps_rel * mean_cost
  tol = default_tol(jnp.float32) if FLAGS.tol is None else FLAGS.tol
  x = jnp.asarray(xs_np)
  y = jnp.asarray(xt_np)
  print(f"n={n} m={m} d={d} mean cost {mean_cost:.4g} -> epsilon = {FLAGS.eps_rel} * mean = "
        f"{eps:.4g}; block_size={FLAGS.block_size}; tol={tol:g}", flush=True)

  def solver(num_iters, tol_):
    def fn(x, y):
      r = wot.online_sinkhorn(x, y, epsilon=eps, block_size=FLAGS.block_size,
                              num_iters=num_iters, tol=tol_, check_every=FLAGS.check_every)
      return r.transport_cost, r.objective, r.num_iters, r.error, r.converged
    return fn

  rss_before = _maxrss_bytes()
  t0 = time.perf_counter()
  solve = jax.jit(solver(FLAGS.num_iters, tol)).lower(x, y).compile()
  compile_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  cost, obj, iters, err, conv = jax.block_until_ready(solve(x, y))
  solve_s = time.perf_counter() - t0
  iters = int(iters)
  print(f"solve to tol: {iters} iterations in {solve_s:.2f} s (compile {compile_s:.2f} s), "
        f"converged={bool(conv)}, error={float(err):.3g}, <P,C>={float(cost):.6g}", flush=True)

  k0, k = 2, FLAGS.timing_iters
  fixed = {}
  for count in (k0, k0 + k):
    fn = jax.jit(solver(count, 0.0)).lower(x, y).compile()
    jax.block_until_ready(fn(x, y))   # warm-up
    times = []
    for _ in range(FLAGS.repeats):
      t0 = time.perf_counter()
      jax.block_until_ready(fn(x, y))
      times.append(time.perf_counter() - t0)
    fixed[count] = min(times)
  per_iter = (fixed[k0 + k] - fixed[k0]) / k
  peak = _maxrss_bytes()
  device_peak = None
  try:
    stats = jax.devices()[0].memory_stats()
    if stats:
      device_peak = int(stats.get("peak_bytes_in_use", 0)) or None
  except Exception:  # CPU backends may not report memory stats.
    device_peak = None
  dense_bytes = 4 * n * m
  tile_bytes = 4 * FLAGS.block_size * max(n, m)
  print(f"time per iteration {per_iter * 1e3:.2f} ms (from {k0} and {k0 + k} fixed "
        f"iterations); peak RSS {peak / 2**20:.1f} MiB (before the solves "
        f"{rss_before / 2**20:.1f} MiB) vs dense float32 cost {dense_bytes / 2**20:.1f} MiB; "
        f"one tile {tile_bytes / 2**20:.1f} MiB", flush=True)

  results = {
      "n": n, "m": m, "d": d,
      "eps_rel": FLAGS.eps_rel, "mean_cost": mean_cost, "epsilon": eps,
      "epsilon_definition": "epsilon = eps_rel * mean_ij ||x_i - y_j||^2 (uniform weights)",
      "block_size": FLAGS.block_size, "tol": tol, "num_iters_cap": FLAGS.num_iters,
      "check_every": FLAGS.check_every,
      "compile_s": compile_s, "solve_s": solve_s, "iterations": iters,
      "converged": bool(conv), "error": float(err),
      "transport_cost": float(cost), "objective": float(obj),
      "time_per_iteration_s": per_iter,
      "fixed_iteration_solve_s": {str(c): t for c, t in fixed.items()},
      "peak_rss_bytes": peak, "rss_before_solve_bytes": rss_before,
      "rss_increase_bytes": peak - rss_before,
      "dense_cost_matrix_float32_bytes": dense_bytes,
      "peak_rss_over_dense_cost": peak / dense_bytes,
      "tile_bytes": tile_bytes,
      "device_peak_bytes": device_peak,
  }

  if FLAGS.dense_check:
    if n * m > 4000 * 4000:
      print("--dense_check skipped: n m > 4000^2", flush=True)
      results["dense_check"] = None
    else:
      C = wot.sqeuclidean(x, y)
      dense_fn = jax.jit(lambda C: wot.sinkhorn(C, epsilon=eps, num_iters=FLAGS.num_iters,
                                                tol=tol, check_every=FLAGS.check_every))
      out = jax.block_until_ready(dense_fn(C))
      t0 = time.perf_counter()
      out = jax.block_until_ready(dense_fn(C))
      dense_s = time.perf_counter() - t0
      rel = abs(float(out.transport_cost) - float(cost)) / abs(float(out.transport_cost))
      results["dense_check"] = {
          "transport_cost": float(out.transport_cost), "iterations": int(out.num_iters),
          "converged": bool(out.converged), "solve_s": dense_s,
          "rel_transport_cost_diff": rel,
          "peak_rss_bytes_after_dense": _maxrss_bytes(),
      }
      print(f"dense wassml.ot.sinkhorn: <P,C>={float(out.transport_cost):.6g} "
            f"(rel diff {rel:.2e}), {int(out.num_iters)} iterations in {dense_s:.2f} s",
            flush=True)

  results["meta"] = {
      "command": "python -m experiments.bench_ot.online " + " ".join(
          f"--{k}={getattr(FLAGS, k)}" for k in (
              "workdir", "n", "m", "d", "eps_rel", "block_size", "num_iters", "tol",
              "check_every", "timing_iters", "repeats", "seed", "dense_check")
          if getattr(FLAGS, k) is not None),
      "backend": jax.default_backend(),
      "device": str(jax.devices()[0]),
      "machine": platform.processor() or platform.machine(),
      "platform": platform.platform(),
      "cpu_count": os.cpu_count(),
      "jax": jax.__version__,
      "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
      "load_average_at_end": os.getloadavg(),
  }
  with open(os.path.join(FLAGS.workdir, "results.json"), "w") as fh:
    json.dump(results, fh, indent=2)


if __name__ == "__main__":
  flags.DEFINE_string("workdir", None, "Where to write results.json.")
  flags.DEFINE_integer("n", 20000, "Source points.")
  flags.DEFINE_integer("m", None, "Target points (default: n).")
  flags.DEFINE_integer("d", 64, "Dimension.")
  flags.DEFINE_float("eps_rel", 0.05, "epsilon = eps_rel * mean squared distance.")
  flags.DEFINE_integer("block_size", 1024, "Points per block of a soft c-transform.")
  flags.DEFINE_integer("num_iters", 1000, "Iteration cap of the solve to tol.")
  flags.DEFINE_float("tol", None, "L1 row-marginal tolerance (default: 1e-5, float32).")
  flags.DEFINE_integer("check_every", 10, "Convergence check period.")
  flags.DEFINE_integer("timing_iters", 10, "k of the per-iteration timing (t(2+k) - t(2)) / k.")
  flags.DEFINE_integer("repeats", 1, "Repeats of each fixed-iteration timing (min reported).")
  flags.DEFINE_integer("seed", 0, "Data seed.")
  flags.DEFINE_bool("dense_check", False,
                    "Also run the dense wassml.ot.sinkhorn (n m <= 4000^2) and compare.")
  flags.mark_flag_as_required("workdir")
  app.run(main)
