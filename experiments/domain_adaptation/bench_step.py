r"""Speed of one JUMBOT training step: wassml (plan on device, in the jitted step) vs the reference
design (the cost matrix goes to the host and POT solves the unbalanced plan at every step).

Both sides use the same model (``wassml.nn.DigitsCNN`` in a ``DAModel``), the same batch
(``--batch`` source + ``--batch`` target images), the same loss ``CE + sum P*C`` and the same
solver settings (unbalanced Sinkhorn, POT ``reg_type='entropy'``, ``eps``, ``rho``, the same
iteration cap and tolerance). Only where and how the plan is computed differs:

* ``wassml``: ``wassml.ot.unbalanced_sinkhorn`` inside the jitted step (no host round trip).
* ``pot_callback``: the jitted step calls POT's ``sinkhorn_knopp_unbalanced`` on the host through
  ``jax.pure_callback`` (one forward pass, like the PyTorch reference).
* ``pot_two_pass``: the reference's control flow written literally in JAX: a jitted forward
  returns the cost to the host, POT solves, then a jitted step recomputes forward + backward with
  the plan as an input (the extra forward pass is the price of not holding an autograd graph).

The OT coupling alone (cost matrix -> plan, ``[batch, batch]``) is timed too. Timings interleave
the variants in one process (round-robin, after warm-up/compilation) and report the median.
POT is a bench/test extra: it is imported here only, never by ``wassml``.

Usage:
  PYTHONPATH=. python -m experiments.domain_adaptation.bench_step \
      --workdir=experiments/domain_adaptation/results/bench_step --batch=500 --rounds=5
"""

from __future__ import annotations

import functools
import json
import os
import platform
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np
import optax

from wassml import nn as wnn
from wassml import ot as wot
from wassml import train as wtrain
from wassml import domain_adaptation as da


def _pot_plan(cost: np.ndarray, epsilon: float, rho: float, num_iters: int,
              tol: float) -> np.ndarray:
  import ot as pot  # pylint: disable=g-import-not-at-top  (bench extra, host side)
  cost = np.asarray(cost, np.float64)
  n, m = cost.shape
  plan = pot.unbalanced.sinkhorn_knopp_unbalanced(
      np.full(n, 1.0 / n), np.full(m, 1.0 / m), cost, epsilon, rho, reg_type="entropy",
      numItermax=num_iters, stopThr=tol)
  return plan.astype(np.float32)


_FIXED_ITERS = 100


def _pot_iters(cost, epsilon, rho, num_iters, tol) -> int:
  import ot as pot  # pylint: disable=g-import-not-at-top
  cost = np.asarray(cost, np.float64)
  n, m = cost.shape
  _, log = pot.unbalanced.sinkhorn_knopp_unbalanced(
      np.full(n, 1.0 / n), np.full(m, 1.0 / m), cost, epsilon, rho, reg_type="entropy",
      numItermax=num_iters, stopThr=tol, log=True)
  return len(log["err"])   # POT logs its error at every iteration


def _result(plan, cost):
  """An OTResult around a plan computed elsewhere (only ``.plan`` is used by the step)."""
  z = jnp.zeros((), cost.dtype)
  return wot.OTResult(transport_cost=jnp.sum(plan * cost), plan=plan, objective=z,
                      f=jnp.zeros(cost.shape[0]), g=jnp.zeros(cost.shape[1]),
                      converged=jnp.asarray(True), num_iters=jnp.asarray(0), error=z)


def _time(fn, *args):
  t0 = time.perf_counter()
  out = fn(*args)
  jax.block_until_ready(out)
  return time.perf_counter() - t0, out


def run(batch: int = 500, image: int = 28, channels: int = 1, rounds: int = 5, warmup: int = 2,
        num_iters: int = 1000, tol: float = 1e-6, epsilon: float = 0.1, rho: float = 1.0,
        eta: float = 0.1, variants=("wassml", "pot_callback", "pot_two_pass", "free_plan"),
        model=None) -> dict:
  """Times the step variants; returns a dict of medians (seconds) and ratios."""
  model = model or da.DAModel(wnn.DigitsCNN(num_classes=10))
  key = jax.random.key(0)
  k1, k2, k3 = jax.random.split(key, 3)
  xs = jax.random.uniform(k1, (batch, image, image, channels))
  xt = jax.random.uniform(k2, (batch, image, image, channels))
  ys = jnp.asarray(np.repeat(np.arange(10), -(-batch // 10))[:batch], jnp.int32)
  bt = {"xs": xs, "ys": ys, "xt": xt}
  tx = optax.adam(2e-4)
  state = wtrain.create_train_state(k3, model, xs[:2], tx)
  apply_fn = model.apply

  # wassml: the library step (plan on device).
  solver = functools.partial(wot.unbalanced_sinkhorn, epsilon=epsilon, rho=rho,
                             num_iters=num_iters, tol=tol)
  wassml_step = jax.jit(wtrain.make_step(da.make_joint_ot_loss(
      apply_fn, solver=solver, eta1=eta, eta2=eta)))

  # pot_callback: identical step, the solver is POT on host through pure_callback.
  def pot_solver(cost, a, b):
    del a, b
    plan = jax.pure_callback(
        functools.partial(_pot_plan, epsilon=epsilon, rho=rho, num_iters=num_iters, tol=tol),
        jax.ShapeDtypeStruct(cost.shape, jnp.float32), cost)
    return _result(plan, cost)
  cb_step = jax.jit(wtrain.make_step(da.make_joint_ot_loss(
      apply_fn, solver=pot_solver, eta1=eta, eta2=eta)))

  # pot_two_pass: jitted forward -> host POT -> jitted step with the plan as input.
  @jax.jit
  def forward_cost(params, batch_stats, batch):
    variables = {"params": params}
    if batch_stats:
      variables["batch_stats"] = batch_stats
    (_, fs, _), upd = apply_fn(variables, batch["xs"], train=True, mutable=["batch_stats"])
    (lt, ft, _), _ = apply_fn({**variables, **upd}, batch["xt"], train=True,
                              mutable=["batch_stats"])
    return da.joint_cost(fs, batch["ys"], ft, lt, eta1=eta, eta2=eta)

  def plan_loss(params, batch_stats, batch, rng):
    fixed = lambda cost, a, b: _result(batch["plan"], cost)  # the host plan, held fixed
    return da.make_joint_ot_loss(apply_fn, solver=fixed, eta1=eta, eta2=eta)(
        params, batch_stats, batch, rng)
  plan_step = jax.jit(wtrain.make_step(plan_loss))

  def two_pass_step(state, batch, rng):
    cost = forward_cost(state.params, getattr(state, "batch_stats", None), batch)
    plan = _pot_plan(np.asarray(cost), epsilon, rho, num_iters, tol)
    return plan_step(state, {**batch, "plan": jnp.asarray(plan)}, rng)

  # free_plan: the same step with a constant plan (no solver at all). Its time bounds from below
  # any step that solves the plan, so pot_callback / free_plan is the most any faster or
  # on-device solver can gain on this machine (Amdahl's law).
  def free_solver(cost, a, b):
    del a, b
    return _result(jnp.full(cost.shape, 1.0 / cost.size, cost.dtype), cost)
  free_step = jax.jit(wtrain.make_step(da.make_joint_ot_loss(
      apply_fn, solver=free_solver, eta1=eta, eta2=eta)))

  steps = {"wassml": wassml_step, "pot_callback": cb_step, "pot_two_pass": two_pass_step,
           "free_plan": free_step}
  steps = {k: v for k, v in steps.items() if k in variants}

  # Coupling alone: cost -> plan, on a fixed [batch, batch] cost from the model.
  cost0 = forward_cost(state.params, getattr(state, "batch_stats", None), bt)
  jit_plan = jax.jit(lambda c: solver(c, None, None).plan)
  couplings = {
      "wassml": lambda: jit_plan(cost0),
      "pot_host": lambda: _pot_plan(np.asarray(cost0), epsilon, rho, num_iters, tol),
  }
  # Same fixed number of iterations on both sides (tol = 0): per-iteration speed.
  fixed = _FIXED_ITERS
  jit_plan_fixed = jax.jit(lambda c: wot.unbalanced_sinkhorn(
      c, epsilon=epsilon, rho=rho, num_iters=fixed, tol=0.0).plan)
  couplings[f"wassml_{fixed}_iters"] = lambda: jit_plan_fixed(cost0)
  couplings[f"pot_host_{fixed}_iters"] = lambda: _pot_plan(np.asarray(cost0), epsilon, rho,
                                                           fixed, 0.0)
  plan_w = np.asarray(jit_plan(cost0))
  plan_p = _pot_plan(np.asarray(cost0), epsilon, rho, num_iters, tol)
  plan_rel_err = float(np.abs(plan_w - plan_p).sum() / np.abs(plan_p).sum())
  iters_w = int(solver(cost0, None, None).num_iters)
  iters_p = _pot_iters(np.asarray(cost0), epsilon, rho, num_iters, tol)

  times = {k: [] for k in steps}
  ctimes = {k: [] for k in couplings}
  states = {k: state for k in steps}
  for r in range(warmup + rounds):
    for name, fn in steps.items():
      dt, (states[name], _) = _time(fn, states[name], bt, jax.random.fold_in(key, r))
      if r >= warmup:
        times[name].append(dt)
    for name, fn in couplings.items():
      dt, _ = _time(fn)
      if r >= warmup:
        ctimes[name].append(dt)
  med = {k: float(np.median(v)) for k, v in times.items()}
  cmed = {k: float(np.median(v)) for k, v in ctimes.items()}
  out = {
      "step_median_s": med, "step_times_s": times,
      "coupling_median_s": cmed, "coupling_times_s": ctimes,
      "plan_relative_l1_error_wassml_vs_pot": plan_rel_err,
      "solver_iterations": {"wassml": iters_w, "pot": iters_p,
                            "note": "different stopping rules at the same tol: wassml checks "
                                    "the max change of log-scalings every 10 iterations, POT "
                                    "the relative change of the scalings every iteration"},
      "settings": dict(batch=batch, image=image, channels=channels, rounds=rounds,
                       warmup=warmup, num_iters=num_iters, tol=tol, epsilon=epsilon, rho=rho,
                       eta1=eta, eta2=eta, model=type(model.backbone).__name__),
  }
  if "wassml" in med:
    out["step_speedup_vs"] = {k: v / med["wassml"] for k, v in med.items() if k != "wassml"}
  if "free_plan" in med and "pot_callback" in med:
    out["max_possible_speedup_vs_pot_callback"] = med["pot_callback"] / med["free_plan"]
  out["coupling_speedup_pot_over_wassml"] = cmed["pot_host"] / cmed["wassml"]
  out[f"coupling_speedup_pot_over_wassml_{fixed}_iters"] = (
      cmed[f"pot_host_{fixed}_iters"] / cmed[f"wassml_{fixed}_iters"])
  return out


def main(argv):
  del argv
  res = run(batch=_BATCH.value, image=_IMAGE.value, channels=_CHANNELS.value,
            rounds=_ROUNDS.value, warmup=_WARMUP.value, num_iters=_NUM_ITERS.value,
            tol=_TOL.value, epsilon=_EPS.value, rho=_RHO.value, eta=_ETA.value,
            variants=tuple(_VARIANTS.value))
  res["machine"] = {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "jax_backend": jax.default_backend(),
                    "devices": [str(d) for d in jax.devices()]}
  res["date_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
  keys = ("step_median_s", "step_speedup_vs", "coupling_median_s",
          "coupling_speedup_pot_over_wassml", "max_possible_speedup_vs_pot_callback",
          "plan_relative_l1_error_wassml_vs_pot")
  print(json.dumps({k: res[k] for k in keys if k in res}, indent=1))
  if _WORKDIR.value:
    os.makedirs(_WORKDIR.value, exist_ok=True)
    with open(os.path.join(_WORKDIR.value, "bench.json"), "w") as f:
      json.dump(res, f, indent=1)


if __name__ == "__main__":
  # Flags are defined only when run as a script, so importing this module
  # (tests, colabs) never clashes with another script's flags.
  _WORKDIR = flags.DEFINE_string("workdir", None, "Where bench.json goes.")
  _BATCH = flags.DEFINE_integer("batch", 500, "Source (and target) batch size.")
  _IMAGE = flags.DEFINE_integer("image", 28, "Image side (28: USPS->MNIST, 32: SVHN->MNIST).")
  _CHANNELS = flags.DEFINE_integer("channels", 1, "Image channels.")
  _ROUNDS = flags.DEFINE_integer("rounds", 5, "Timed steps per variant (interleaved).")
  _WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed steps per variant (compilation).")
  _NUM_ITERS = flags.DEFINE_integer("num_iters", 1000, "Sinkhorn iteration cap (POT's default).")
  _TOL = flags.DEFINE_float("tol", 1e-6, "Sinkhorn stopping threshold (POT's default stopThr).")
  _EPS = flags.DEFINE_float("epsilon", 0.1, "Entropic regularisation (JUMBOT digits).")
  _RHO = flags.DEFINE_float("rho", 1.0, "Marginal penalty tau (JUMBOT digits).")
  _ETA = flags.DEFINE_float("eta", 0.1, "eta1 = eta2 (JUMBOT digits).")
  _VARIANTS = flags.DEFINE_list("variants", ["wassml", "pot_callback", "pot_two_pass", "free_plan"],
                                "Step variants to time.")
  app.run(main)
