"""Figures of the generative experiment (matplotlib, Agg)."""

from __future__ import annotations

import pathlib
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_fit_over_iterations(snapshots: dict[str, list], target: np.ndarray, path: pathlib.Path,
                             title: str = "") -> None:
  """Rows: losses; columns: generated samples at evenly spaced iterations, over the target."""
  names = list(snapshots)
  cols = len(next(iter(snapshots.values())))
  fig, axes = plt.subplots(len(names), cols, figsize=(2.2 * cols, 2.2 * len(names)), squeeze=False)
  lim = np.abs(target).max() * 1.4
  for r, name in enumerate(names):
    for c, (step, pts) in enumerate(snapshots[name]):
      ax = axes[r, c]
      ax.scatter(target[:, 0], target[:, 1], s=2, c="#bbbbbb")
      ax.scatter(pts[:, 0], pts[:, 1], s=2, c="#d62728")
      ax.set_xlim(-lim, lim)
      ax.set_ylim(-lim, lim)
      ax.set_xticks([])
      ax.set_yticks([])
      if r == 0:
        ax.set_title(f"step {step}", fontsize=9)
      if c == 0:
        ax.set_ylabel(name, fontsize=9)
  fig.suptitle(f"Minimum-Wasserstein fit of a generator to {title} (grey: held-out target)")
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def plot_plans_1d(plans: dict[int, tuple[np.ndarray, np.ndarray]], path: pathlib.Path) -> None:
  """Closed-form complete minibatch plan (top) vs empirical average of random plans (bottom)."""
  ms = sorted(plans)
  fig, axes = plt.subplots(2, len(ms), figsize=(3 * len(ms), 6), squeeze=False)
  for c, m in enumerate(ms):
    closed, emp = plans[m]
    vmax = closed.max()
    axes[0, c].imshow(closed, cmap="viridis", vmin=0, vmax=vmax)
    axes[0, c].set_title(f"closed form, m={m}")
    axes[1, c].imshow(emp, cmap="viridis", vmin=0, vmax=vmax)
    axes[1, c].set_title(f"empirical average, m={m}")
    for ax in axes[:, c]:
      ax.set_xticks([])
      ax.set_yticks([])
  fig.suptitle("1-D minibatch OT plan Π^m (sorted uniform data)")
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def plot_class_connections(conn: dict[str, Any], path: pathlib.Path) -> None:
  """The two-class toy with the averaged balanced and unbalanced minibatch plans."""
  xs, xt, labels = conn["source"], conn["target"], conn["labels"]
  fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
  for ax, name in zip(axes, ("balanced", "unbalanced")):
    plan = conn[f"{name}_plan"]
    thresh = plan.max() * 0.05
    for i, j in zip(*np.nonzero(plan > thresh)):
      color = "#2ca02c" if labels[i] == labels[j] else "#d62728"
      ax.plot([xs[i, 0], xt[j, 0]], [xs[i, 1], xt[j, 1]], color=color,
              alpha=float(min(1.0, plan[i, j] / plan.max())), lw=1)
    ax.scatter(xs[:, 0], xs[:, 1], c=labels, cmap="coolwarm", marker="o", s=20, label="source")
    ax.scatter(xt[:, 0], xt[:, 1], c=labels, cmap="coolwarm", marker="s", s=20, label="target")
    ax.set_title(f"{name} minibatch OT: cross-class mass "
                 f"{conn[f'{name}_cross_class_mass']:.1%} (red)")
    ax.set_aspect("equal")
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def plot_deviation(dev: dict[str, Any], path: pathlib.Path) -> None:
  """Deviation |h~_k^m - E_h| (quantile) against k, with the seed's bound."""
  fig, ax = plt.subplots(figsize=(6, 4.5))
  for m in dev["batch_sizes"]:
    line, = ax.loglog(dev["ks"], dev["deviation"][m], "o-", label=f"measured, m={m}")
    ax.loglog(dev["ks"], dev["bound"][m], "--", color=line.get_color(), label=f"bound, m={m}")
  ax.set_xlabel("k (number of minibatch pairs)")
  ax.set_ylabel(f"{1 - dev['delta']:.0%} quantile of deviation")
  ax.set_title("Incomplete minibatch estimator: deviation vs bound")
  ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def plot_bias(bias: dict[str, list], path: pathlib.Path) -> None:
  """E_h(a, a) against m: minibatch OT is not a distance."""
  fig, ax = plt.subplots(figsize=(5, 4))
  ax.plot(bias["batch_sizes"], bias["h_aa"], "o-")
  ax.set_xscale("log", base=2)
  ax.set_xlabel("minibatch size m")
  ax.set_ylabel("E_h(a, a)")
  ax.set_title("Minibatch OT bias: h(a, a) > 0 for m < n")
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)
