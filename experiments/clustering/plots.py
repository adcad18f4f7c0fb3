"""Plots of the clustering experiment (matplotlib, Agg backend).

* ``codes.png``: code space with the mixture ellipses (2 standard deviations; the first two code
  axes after a PCA of the codes when ``d > 2``; a histogram with the mixture density when ``d = 1``);
* ``centroids.png``: the decoded centroids ``D(m_k)``;
* ``generated.png``: samples generated per cluster, as in Figure 4 of the WAMiC paper: one column
  per cluster (Hungarian order), row ``r`` decodes ``m_k + r/R * 2.5 S_k u`` with ``u`` uniform on
  the unit sphere (row 0 is the centroid); for 2-D data, generated points coloured by cluster;
* ``curves.png``: training curves; ``model_selection.png``: the held-out score against ``K``
  (``model_selection_exact.png``: the exact ``W_p`` when it is computed next to the critic's).
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402

from wassml import metrics  # noqa: E402
from wassml.clustering import mixture, wamic  # noqa: E402


def hungarian_order(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
  """Clusters sorted by the class they are matched to (unmatched clusters last)."""
  table = metrics.contingency(y, pred)
  table = np.pad(table, ((0, max(0, k - table.shape[0])), (0, 0)))
  rows, cols = scipy.optimize.linear_sum_assignment(-table)
  order = [r for _, r in sorted(zip(cols, rows))]
  return np.array(order + [c for c in range(k) if c not in order])


def _ellipse(ax, mean, cov, color):
  vals, vecs = np.linalg.eigh(cov)
  t = np.linspace(0, 2 * np.pi, 100)
  circle = np.stack([np.cos(t), np.sin(t)])
  pts = mean[:, None] + 2.0 * vecs @ (np.sqrt(np.maximum(vals, 0))[:, None] * circle)
  ax.plot(pts[0], pts[1], color=color, lw=1.5)


def code_scatter(path, codes: np.ndarray, y: np.ndarray, mix: mixture.MixtureParams, title: str):
  pi = np.asarray(mixture.proportions(mix))
  means, covs = np.asarray(mix.means), np.asarray(mixture.covariances(mix))
  act = pi > 1e-6
  fig, ax = plt.subplots(figsize=(6, 5))
  cmap = plt.get_cmap("tab10")
  if codes.shape[1] == 1:
    grid = np.linspace(codes.min() - 0.5, codes.max() + 0.5, 400)
    for c in np.unique(y):
      ax.hist(codes[y == c, 0], bins=80, density=True, alpha=0.4, color=cmap(c % 10),
              label=f"class {c}")
    for j in np.nonzero(act)[0]:
      sd = np.sqrt(covs[j, 0, 0])
      ax.plot(grid, pi[j] * np.exp(-0.5 * ((grid - means[j, 0]) / sd) ** 2)
              / (sd * np.sqrt(2 * np.pi)), color="k", lw=1.2)
    ax.set_xlabel("code")
  else:
    mu = codes.mean(0)
    _, _, vt = np.linalg.svd(codes - mu, full_matrices=False)
    p = vt[:2]
    z = (codes - mu) @ p.T
    sub = np.random.default_rng(0).permutation(len(z))[:5000]
    ax.scatter(z[sub, 0], z[sub, 1], c=[cmap(c % 10) for c in y[sub]], s=2, alpha=0.5)
    for j in np.nonzero(act)[0]:
      _ellipse(ax, (means[j] - mu) @ p.T, p @ covs[j] @ p.T, "k")
    ax.set_xlabel("code PC 1")
    ax.set_ylabel("code PC 2")
  ax.set_title(title)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def _images(ax, imgs: np.ndarray, image_shape, ncols: int):
  h, w = image_shape[:2]
  n = len(imgs)
  nrows = int(np.ceil(n / ncols))
  canvas = np.ones((nrows * (h + 1), ncols * (w + 1)))
  for i, im in enumerate(imgs):
    r, c = divmod(i, ncols)
    canvas[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = np.clip(
        im.reshape(h, w, -1)[..., 0], 0, 1)
  ax.imshow(canvas, cmap="gray_r" if image_shape[0] <= 8 else "gray", vmin=0, vmax=1)
  ax.axis("off")


def generated_grid(rng: jax.Array, state: wamic.WamicState, order: np.ndarray, rows: int
                   ) -> np.ndarray:
  """``[rows, K, D]`` decodes of ``m_k + (r / (rows - 1)) * 2.5 S_k u``, ``u`` on the sphere."""
  mix = wamic.mixture_params(state)
  k, d = mix.means.shape
  u = jax.random.normal(rng, (rows, k, d))
  u = u / jnp.linalg.norm(u, axis=-1, keepdims=True)
  radius = 2.5 * jnp.arange(rows) / max(rows - 1, 1)
  z = mix.means[None] + radius[:, None, None] * jnp.einsum("kij,rkj->rki", mixture.scale_tril(mix),
                                                           u)
  out = wamic.decode(state, z.reshape(rows * k, d)).reshape(rows, k, -1)
  return np.asarray(out)[:, order]


def make_all(workdir: pathlib.Path, run: dict, x: np.ndarray, y: np.ndarray, image_shape,
             cfg, results: dict) -> None:
  """Writes codes.png, centroids.png, generated.png and curves.png for one seed's run."""
  state = run["state"]
  state = jax.tree.map(jnp.asarray, state) if not isinstance(state, wamic.WamicState) else state
  mix = wamic.mixture_params(state)
  k = mix.means.shape[0]
  pred = np.asarray(run["wamic"])
  order = hungarian_order(y, pred, k)
  acc = metrics.cluster_accuracy(y, pred)
  code_scatter(workdir / "codes.png", np.asarray(run["wamic_codes"]), y, mix,
               f"{results['method'].upper()} codes (seed 0, acc {100 * acc:.1f}%)")
  centroids = np.asarray(wamic.decode(state, mix.means))[order]
  fig, ax = plt.subplots(figsize=(max(4, k), 2.2) if image_shape else (6, 4))
  if image_shape:
    _images(ax, centroids, image_shape, k)
    ax.set_title("decoded centroids D(m_k), Hungarian order")
  else:
    ax.scatter(x[:, 0], x[:, 1], c=y, s=2, alpha=0.3, cmap="tab10")
    ax.scatter(centroids[:, 0], centroids[:, 1], c="k", marker="x", s=80)
    ax.set_title("data and decoded centroids D(m_k)")
  fig.tight_layout()
  fig.savefig(workdir / "centroids.png", dpi=110)
  plt.close(fig)

  rows = 6
  fig, ax = plt.subplots(figsize=(max(4, k), rows * 0.9 + 0.5) if image_shape else (6, 4))
  if image_shape:
    grid = generated_grid(jax.random.key(0), state, order, rows)
    _images(ax, grid.reshape(rows * k, -1), image_shape, k)
    ax.set_title("per-cluster samples: row 0 = D(m_k), then further from m_k")
  else:
    z = mixture.sample_components(jax.random.key(0), mix, 300)
    gen = np.asarray(wamic.decode(state, z.reshape(-1, z.shape[-1]))).reshape(k, 300, -1)
    cmap = plt.get_cmap("tab10")
    for j in range(k):
      if float(mixture.proportions(mix)[j]) > 1e-6:
        ax.scatter(gen[j, :, 0], gen[j, :, 1], s=3, color=cmap(j % 10), label=f"cluster {j}")
    ax.legend(markerscale=4, fontsize=7)
    ax.set_title("samples generated per cluster D(S_k e + m_k)")
  fig.tight_layout()
  fig.savefig(workdir / "generated.png", dpi=110)
  plt.close(fig)

  curves = run["curves"]
  fig, axes = plt.subplots(1, len(curves), figsize=(3 * len(curves), 2.8))
  for ax, (name, v) in zip(np.atleast_1d(axes), sorted(curves.items())):
    ax.plot(np.asarray(v))
    ax.set_title(name, fontsize=8)
  fig.tight_layout()
  fig.savefig(workdir / "curves.png", dpi=90)
  plt.close(fig)


def model_selection_curve(path, ks, mean_w: np.ndarray, true_k: int,
                          se_w: np.ndarray | None = None,
                          ylabel: str = "held-out W2(generated, data)") -> None:
  """``mean_w [S, len(ks)]``: one line per seed (error bars: ``se_w [S, len(ks)]``, one standard
  error of the batch mean, when given), the mean over seeds in black."""
  fig, ax = plt.subplots(figsize=(5, 3.5))
  for i, row in enumerate(mean_w):
    if se_w is not None and np.all(np.isfinite(se_w[i])):
      ax.errorbar(ks, row, yerr=se_w[i], color="0.7", lw=1, marker=".", capsize=2)
    else:
      ax.plot(ks, row, color="0.7", lw=1, marker=".")
  ax.plot(ks, mean_w.mean(0), color="k", lw=2, marker="o", label="mean over seeds")
  ax.axvline(true_k, color="r", ls="--", label=f"true K = {true_k}")
  ax.set_xlabel("number of clusters K")
  ax.set_ylabel(ylabel)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def model_selection_plots(workdir: pathlib.Path, ms: dict, true_k: int) -> None:
  """``model_selection.png`` (the configured score) and, when present, ``model_selection_exact.png``
  from the ``model_selection`` entry of ``results.json``."""
  ks = ms["ks"]
  score = ms.get("score", "exact")
  p = ms.get("p", 2.0)
  label = ("held-out critic estimate of W1" if score == "critic"
           else f"held-out exact W{p:g}(generated, data)")
  model_selection_curve(workdir / "model_selection.png", ks, np.asarray(ms["mean_w"]), true_k,
                        se_w=np.asarray(ms["se_w"]), ylabel=label)
  if "exact" in ms:
    w = np.asarray(ms["exact"]["w_per_batch"])
    se = w.std(-1, ddof=1) / np.sqrt(w.shape[-1])
    model_selection_curve(workdir / "model_selection_exact.png", ks, w.mean(-1), true_k, se_w=se,
                          ylabel=f"held-out exact W{ms['exact']['p']:g}(generated, data)")
