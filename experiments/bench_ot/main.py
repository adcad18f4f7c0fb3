r"""Speed benchmark of the calls users write: wassml.ot defaults vs a Python loop of POT vs ott-jax.

JUMBOT/DeepJDOT-sized work: for each size ``B x n`` (``--sizes``, default ``8x500,1x2000``),
``B`` problems of ``n x n`` points in ``d`` dimensions (class-clustered features, target
shifted), squared-Euclidean cost normalised by its max. Three regimes:

- exact OT: ``wassml.ot.emd(c)`` (the default call; on a CPU backend scipy's
  ``linear_sum_assignment`` on the host, named so in the row) vs ``ot.emd2`` (POT's network
  simplex, C++), plus the JAX auction as an extra column;
- balanced Sinkhorn ``eps = 0.05``: ``wassml.ot.sinkhorn(c, epsilon=eps)`` (default call) vs
  ``ot.sinkhorn2`` at POT's defaults (stopThr 1e-9, numItermax 1000);
- unbalanced ``eps = 0.1, rho = 1``: ``wassml.ot.unbalanced_sinkhorn(c, epsilon, rho)`` vs
  ``ot.unbalanced.sinkhorn_knopp_unbalanced(reg_type="entropy")`` at POT's defaults.

Columns of the entropic rows:
- ``wassml_s``: the default call, float32, ``jit(vmap(...))`` (what a user gets);
- ``wassml_<mode>_s``: each explicit mode at the same tolerance;
- ``equal_work``: both sides run exactly the number of iterations POT needed at its defaults
  (``tol=0`` / ``stopThr=0``), wassml in float32 and in float64;
- ott-jax's ``Sinkhorn()`` at its defaults and configured well (kernel mode,
  ``lse_mode=False``, threshold 1e-5, ``inner_iterations=10``), explicit ``epsilon``.
Accuracy: relative value error against POT float64 at POT's defaults.

wassml and ott-jax times are steady-state times of a jitted, vmapped call after compilation
(compile time reported separately); POT times are a Python loop in float64 numpy. All run side
by side in this one process; the reported time is the median over ``--repeats``.

Usage:
  python -m experiments.bench_ot.main --workdir=runs/bench_ot [--repeats=5]
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
import warnings

from absl import app, flags

FLAGS = flags.FLAGS


def time_fn(fn, repeats):
  times = []
  out = None
  for _ in range(repeats):
    t0 = time.perf_counter()
    out = fn()
    times.append(time.perf_counter() - t0)
  return statistics.median(times), times, out


def time_jax(fn, arg, repeats):
  """(compile_s, median_run_s, all_runs, output) of a jitted function."""
  import jax

  t0 = time.perf_counter()
  compiled = jax.jit(fn).lower(arg).compile()
  compile_s = time.perf_counter() - t0
  jax.block_until_ready(compiled(arg))  # warm-up
  med, times, out = time_fn(lambda: jax.block_until_ready(compiled(arg)), repeats)
  return compile_s, med, times, out


def bench_size(num_batches, n, repeats, use_ott):
  """All rows for one problem size; returns ``{row_name: row}``."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  import ot

  import wassml.ot as wot
  from experiments.bench_ot import settings
  from experiments.bench_ot.data import make_costs

  C64 = make_costs(FLAGS.seed, num_batches, n, FLAGS.d)
  C32 = jnp.asarray(C64, jnp.float32)
  C64j = jnp.asarray(C64, jnp.float64)
  u = np.full(n, 1.0 / n)
  rows = {}

  def column(name, fn, arg, pot_s, pot_vals, reps=repeats):
    comp, s, runs, vals = time_jax(fn, arg, reps)
    vals = np.asarray(vals, np.float64)
    diff = np.abs(vals - pot_vals)
    print(f"  {name:<28s} {s*1e3:9.1f} ms  ratio {s/pot_s:6.3f}  compile {comp:5.2f} s  "
          f"max rel diff {np.max(diff / np.abs(pot_vals)):.1e}", flush=True)
    return {f"{name}_s": s, f"{name}_compile_s": comp, f"ratio_{name}_over_pot": s / pot_s,
            f"{name}_runs_s": runs,
            f"max_rel_value_diff_{name}_vs_pot": float(np.max(diff / np.abs(pot_vals)))}

  def pot_row(name, pot_fn):
    pot_s, pot_times, pot_vals = time_fn(lambda: np.array([pot_fn(c) for c in C64]), repeats)
    print(f"[{name}] POT loop {pot_s*1e3:.1f} ms", flush=True)
    return pot_s, pot_times, pot_vals

  # ---------------- exact ----------------
  name = f"exact_{num_batches}x{n}"
  pot_s, pot_times, pot_vals = pot_row(name, lambda c: ot.emd2(u, u, c))
  row = {"pot_loop_s": pot_s, "pot_runs_s": pot_times, "pot_mean_value": float(pot_vals.mean()),
         "backend": ("wassml.ot.emd(c): on this CPU backend scipy.optimize.linear_sum_assignment "
                     "on the host (pure_callback, float64); POT: ot.emd2 network simplex (C++)")}
  d = column("wassml", jax.vmap(lambda c: wot.emd(c, **settings.EXACT).transport_cost), C32,
             pot_s, pot_vals)
  row.update(d)
  row.update(column("auction", jax.vmap(lambda c: wot.emd(c, **settings.EXACT_AUCTION)
                                        .transport_cost), C32, pot_s, pot_vals,
                    max(1, repeats // 2)))
  if jax.default_backend() != "cpu":
    row.update(column("host", jax.vmap(lambda c: wot.emd(c, **settings.EXACT_HOST)
                                       .transport_cost), C32, pot_s, pot_vals))
    row.update(column("auction_parallel", jax.vmap(
        lambda c: wot.emd(c, **settings.EXACT_AUCTION_PARALLEL).transport_cost), C32, pot_s,
        pot_vals))
  rows[name] = row

  # ---------------- entropic ----------------
  def pot_unbalanced(c, **kw):
    with warnings.catch_warnings():
      warnings.simplefilter("ignore")
      return ot.unbalanced.sinkhorn_knopp_unbalanced(u, u, c, 0.1, 1.0, reg_type="entropy",
                                                     **kw)

  regimes = [
      ("sinkhorn_eps0.05", dict(epsilon=0.05), wot.sinkhorn,
       lambda c, **kw: ot.sinkhorn2(u, u, c, 0.05, **kw),
       lambda c: len(ot.sinkhorn(u, u, c, 0.05, log=True)[1]["err"]) * 10, None),
      ("unbalanced_eps0.1_rho1", dict(epsilon=0.1, rho=1.0), wot.unbalanced_sinkhorn,
       lambda c, **kw: float(np.sum(pot_unbalanced(c, **kw) * c)),
       lambda c: len(pot_unbalanced(c, log=True)[1]["err"]), 1.0 / 1.1),
  ]
  for base, kw, solver, pot_fn, pot_iters_fn, tau in regimes:
    name = f"{base}_{num_batches}x{n}"
    pot_s, pot_times, pot_vals = pot_row(name, pot_fn)
    iters_pot = int(max(pot_iters_fn(c) for c in C64))
    row = {"pot_loop_s": pot_s, "pot_runs_s": pot_times, "pot_iters_max": iters_pot,
           "pot_mean_value": float(pot_vals.mean()),
           "wassml_settings": {"default": settings.ENTROPIC_DEFAULT,
                               **settings.ENTROPIC_MODES}}
    d = column("wassml", jax.vmap(lambda c: solver(c, **kw, **settings.ENTROPIC_DEFAULT)
                                  .transport_cost), C32, pot_s, pot_vals)
    row.update(d)
    row["wassml_iters"] = np.asarray(jax.jit(jax.vmap(
        lambda c: solver(c, **kw).num_iters))(C32)).tolist()
    best = d["wassml_s"]
    for mode, mkw in settings.ENTROPIC_MODES.items():
      dm = column(f"wassml_{mode}", jax.vmap(lambda c, mkw=mkw: solver(c, **kw, **mkw)
                                             .transport_cost), C32, pot_s, pot_vals,
                  max(1, repeats // 2) if mode == "log" else repeats)
      row.update(dm)
      best = min(best, dm[f"wassml_{mode}_s"])
    row["ratio_default_over_best_mode"] = d["wassml_s"] / best
    # Equal work: exactly POT's iteration count on both sides.
    pe_s, pe_times, pe_vals = time_fn(lambda: np.array(
        [pot_fn(c, numItermax=iters_pot, stopThr=0.0) for c in C64]), repeats)
    print(f"  POT, exactly {iters_pot} iterations {pe_s*1e3:9.1f} ms", flush=True)
    row["equal_work"] = {"iterations": iters_pot, "pot_s": pe_s, "pot_runs_s": pe_times}
    for label, arr in (("float32", C32), ("float64", C64j)):
      de = column(f"equal_work_{label}", jax.vmap(lambda c: solver(
          c, **kw, num_iters=iters_pot, tol=0.0).transport_cost), arr, pe_s, pe_vals)
      row["equal_work"].update(de)
    if use_ott:
      from ott.geometry import geometry
      from ott.problems.linear import linear_problem
      from ott.solvers.linear import sinkhorn as ott_sinkhorn

      def ott_fn(c, **skw):
        t = {} if tau is None else {"tau_a": tau, "tau_b": tau}
        prob = linear_problem.LinearProblem(
            geometry.Geometry(cost_matrix=c, epsilon=kw["epsilon"]), **t)
        out = ott_sinkhorn.Sinkhorn(**skw)(prob)
        return jnp.sum(out.matrix * c)

      row.update(column("ott_defaults", jax.vmap(ott_fn), C32, pot_s, pot_vals,
                        max(1, repeats // 2)))
      row.update(column("ott_kernel_tol1e-5", jax.vmap(lambda c: ott_fn(
          c, lse_mode=False, threshold=1e-5, inner_iterations=10)), C32, pot_s, pot_vals))
    rows[name] = row
  return rows


def bench_readme_minibatch(repeats):
  """The README's minibatch-OT example (default ``sinkhorn`` vs explicit modes), value+grad."""
  import functools
  import jax
  import wassml

  x = jax.random.normal(jax.random.key(1), (64, 3))
  y = jax.random.normal(jax.random.key(2), (64, 2)) + 3.0
  w = jax.random.normal(jax.random.key(0), (3, 2))
  row = {}
  for label, kw in (("default", {}), ("kernel", {"mode": "kernel"}), ("log", {"mode": "log"})):
    solver = functools.partial(wassml.ot.sinkhorn, epsilon=0.05, **kw)

    def loss(w, solver=solver):
      return wassml.ot.minibatch_ot(jax.random.key(3), x @ w, y, batch_size=32, num_batches=4,
                                    solver=solver)

    f = jax.jit(jax.value_and_grad(loss))
    jax.block_until_ready(f(w))
    med, runs, _ = time_fn(lambda f=f: jax.block_until_ready(f(w)), max(repeats, 20))
    row[f"{label}_s"] = med
    row[f"{label}_runs_s"] = runs
    print(f"[readme minibatch_ot] {label:<8s} {med*1e3:.2f} ms", flush=True)
  # The example's costs are far beyond the kernel's range: exp(-C/eps) underflows, so the kernel
  # column times a computation that is wrong (unguarded under jit); log is the valid alternative.
  ratio = float(jax.numpy.max(wassml.ot.sqeuclidean(x[:32] @ w, y[:32]))) / 0.05
  row["max_cost_over_epsilon"] = ratio
  row["kernel_valid"] = ratio < wassml.ot.scaling.kernel_safe_ratio(x.dtype)
  row["ratio_default_over_kernel"] = row["default_s"] / row["kernel_s"]
  valid = [row["log_s"]] + ([row["kernel_s"]] if row["kernel_valid"] else [])
  row["ratio_default_over_best_valid_mode"] = row["default_s"] / min(valid)
  return row


def main(argv):
  del argv
  if FLAGS.single_thread:
    # One thread on both sides: XLA, and the BLAS behind POT's numpy mat-vecs (OpenBLAS would
    # otherwise use every core). Set before jax and numpy are imported.
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               " --xla_cpu_multi_thread_eigen=false"
                               " intra_op_parallelism_threads=1").strip()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
      os.environ[var] = "1"
  import jax
  jax.config.update("jax_enable_x64", True)  # float64 columns; float32 arrays stay float32
  jax.config.update("jax_enable_compilation_cache", False)  # honest compile times
  import ot

  os.makedirs(FLAGS.workdir, exist_ok=True)
  t0 = time.time()
  results = {}
  for size in FLAGS.sizes:
    b, n = (int(v) for v in size.split("x"))
    results.update(bench_size(b, n, FLAGS.repeats, FLAGS.ott))
  results["readme_minibatch_ot"] = bench_readme_minibatch(FLAGS.repeats)
  results["meta"] = {
      "command": "python -m experiments.bench_ot.main " + " ".join(
          f"--{k}={getattr(FLAGS, k) if k != 'sizes' else ','.join(FLAGS.sizes)}"
          for k in ("workdir", "repeats", "sizes", "d", "seed", "single_thread", "ott")),
      "xla_flags": os.environ.get("XLA_FLAGS", ""),
      "threads": ("one thread on each side (XLA single-threaded, OPENBLAS_NUM_THREADS=1 for "
                  "POT's numpy)" if FLAGS.single_thread else "library defaults on both sides"),
      "machine": platform.processor() or platform.machine(),
      "platform": platform.platform(),
      "cpu_count": os.cpu_count(),
      "backend": jax.default_backend(),
      "jax": jax.__version__,
      "pot": ot.__version__,
      "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
      "seconds": time.time() - t0,
      "load_average_at_end": os.getloadavg(),
      "note": ("wassml/ott-jax: float32 unless the column says float64, jit+vmap, steady "
               "state after compilation; POT: float64 numpy loop (single-threaded BLAS calls). "
               "Ratios: median/median of repeats."),
  }
  with open(os.path.join(FLAGS.workdir, "results.json"), "w") as fh:
    json.dump(results, fh, indent=2)
  summary = {}
  for k, v in results.items():
    if k == "meta":
      continue
    summary[k] = {kk: round(vv, 3) for kk, vv in v.items()
                  if kk.startswith("ratio") and isinstance(vv, float)}
    if "equal_work" in v:
      summary[k].update({f"equal_work_{kk}": round(vv, 3) for kk, vv in v["equal_work"].items()
                         if kk.startswith("ratio")})
  print(json.dumps(summary, indent=2))


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  flags.DEFINE_string("workdir", None, "Where to write results.json.")
  flags.DEFINE_integer("repeats", 5, "Timed repeats (median reported).")
  flags.DEFINE_list("sizes", ["8x500", "1x2000"], "Problem sizes BxN (B problems of N x N).")
  flags.DEFINE_integer("d", 128, "Feature dimension.")
  flags.DEFINE_integer("seed", 0, "Data seed.")
  flags.DEFINE_bool("ott", True, "Also time ott-jax (defaults and kernel mode).")
  flags.DEFINE_bool("single_thread", True,
                    "Run XLA and numpy's BLAS single-threaded, so that both sides use one "
                    "thread (set before jax and numpy are imported).")
  flags.mark_flag_as_required("workdir")
  app.run(main)
