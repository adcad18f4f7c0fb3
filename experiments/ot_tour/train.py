"""A tour of the OT core: one source/target pair through every solver of ``wassml.ot``.

Source: two moons; target: the same moons rotated (the domain-adaptation toy). For each solver it
records the transport cost, the plan's total mass and the fraction of mass that crosses classes,
and draws the plans. Values, not speed: ``experiments/bench_ot`` is the benchmark.
"""

from __future__ import annotations

import functools
import json
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402

from wassml import ot  # noqa: E402


def _rotate(x: np.ndarray, degrees: float) -> np.ndarray:
  t = np.deg2rad(degrees)
  rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]], np.float32)
  return (x - x.mean(0)) @ rot.T + x.mean(0)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Runs every solver on the rotated-moons pair; writes ``results.json`` and ``plans.png``."""
  from sklearn.datasets import make_moons  # pylint: disable=import-outside-toplevel
  out = pathlib.Path(workdir)
  out.mkdir(parents=True, exist_ok=True)
  xs, ys = make_moons(config.num_points, noise=0.05, random_state=config.seed)
  xt, yt = make_moons(config.num_points, noise=0.05, random_state=config.seed + 1)
  xs, xt = xs.astype(np.float32), _rotate(xt.astype(np.float32), config.rotation_degrees)
  cost = ot.sqeuclidean(jnp.asarray(xs), jnp.asarray(xt))
  scale = float(cost.max())
  cost = cost / scale
  solvers = {
      "exact (emd)": ot.emd,
      "sinkhorn": functools.partial(ot.sinkhorn, epsilon=config.epsilon),
      "unbalanced sinkhorn": functools.partial(ot.unbalanced_sinkhorn, epsilon=config.epsilon,
                                               rho=config.rho),
      "ipot": ot.ipot,
  }
  cross = ys[:, None] != yt[None, :]
  results: dict[str, Any] = {"cost_scale": scale}
  plans = {}
  for name, solver in solvers.items():
    res = solver(cost)
    plan = np.asarray(res.plan)
    plans[name] = plan
    results[name] = {"cost": float(res.transport_cost), "mass": float(plan.sum()),
                     "cross_class_mass": float(plan[cross].sum() / plan.sum())}
  value, mb = ot.minibatch_ot(jax.random.key(config.seed), jnp.asarray(xs), jnp.asarray(xt),
                              batch_size=config.batch_size, num_batches=config.num_batches,
                              solver=ot.emd, cost_fn=lambda a, b: ot.sqeuclidean(a, b) / scale,
                              return_output=True)
  plan = mb.plan
  plans[f"minibatch exact (m={config.batch_size})"] = np.asarray(plan)
  results["minibatch exact"] = {"cost": float(value), "mass": float(np.asarray(plan).sum()),
                                "cross_class_mass": float(np.asarray(plan)[cross].sum()
                                                          / np.asarray(plan).sum())}
  results["sinkhorn_divergence"] = float(ot.sinkhorn_divergence(
      jnp.asarray(xs), jnp.asarray(xt), epsilon=config.epsilon * scale)) / scale
  results["sliced_wasserstein"] = float(ot.sliced_wasserstein(
      jax.random.key(config.seed), jnp.asarray(xs), jnp.asarray(xt),
      num_projections=config.num_projections)) / scale

  order_s, order_t = np.argsort(ys, kind="stable"), np.argsort(yt, kind="stable")
  fig, axes = plt.subplots(1, len(plans) + 1, figsize=(3.2 * (len(plans) + 1), 3.4))
  axes[0].scatter(xs[:, 0], xs[:, 1], c=ys, cmap="coolwarm", s=8, marker="o")
  axes[0].scatter(xt[:, 0], xt[:, 1], c=yt, cmap="coolwarm", s=8, marker="x")
  axes[0].set_title("source (o) / target (x)")
  for ax, (name, plan) in zip(axes[1:], plans.items()):
    ax.imshow(plan[order_s][:, order_t], cmap="magma")
    ax.set_title(f"{name}\ncross-class {results.get(name, results.get('minibatch exact'))['cross_class_mass']:.1%}",
                 fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
  fig.tight_layout()
  fig.savefig(out / "plans.png", dpi=90)
  plt.close(fig)
  (out / "results.json").write_text(json.dumps(results, indent=2))
  return results
