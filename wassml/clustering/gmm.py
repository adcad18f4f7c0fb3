"""k-means and Gaussian mixtures fitted by EM, in JAX.

Both follow scikit-learn's conventions so that they can be checked against ``KMeans`` and
``GaussianMixture`` on the same data:

* k-means: Lloyd iterations from k-means++ seeds (greedy k-means++ with ``2 + log K`` local
  trials, as scikit-learn), stopped when the centres move less than ``tol * mean(var(x))``.
* GMM: EM with ``reg_covar`` added to every covariance diagonal, responsibilities initialised from
  k-means (``init="kmeans"``, scikit-learn's default) or from k-means++ seeds
  (``init="k-means++"``), stopped when the mean log-likelihood changes by less than ``tol``.

A component that loses all its points keeps a weight of ``10 eps`` and a covariance of
``reg_covar I`` (scikit-learn's regularisation), so EM never divides by zero nor yields NaN.
Everything is jittable and vmappable over the ``rng`` key (several restarts or seeds in one call).
"""

from __future__ import annotations

import functools
import math

import flax.struct
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.clustering import _checks
from wassml.ot.costs import pairwise_sqeuclidean
from wassml.utils import linalg

COVARIANCE_TYPES = ("full", "diag", "tied")
GMM_INITS = ("kmeans", "k-means++", "random")


@flax.struct.dataclass
class GMMParams:
  """A Gaussian mixture ``sum_k weights_k N(means_k, covariances_k)``.

  Attributes:
    weights: ``[K]`` proportions (sum to one).
    means: ``[K, d]``.
    covariances: ``[K, d, d]`` (full, and tied: ``K`` equal matrices) or ``[K, d]`` (diagonal
      variances).
  """

  weights: jax.Array
  means: jax.Array
  covariances: jax.Array

  @property
  def covariance_type(self) -> str:
    return "full" if self.covariances.ndim == self.means.ndim + 1 else "diag"

  @property
  def num_components(self) -> int:
    return self.means.shape[-2]

  def full_covariances(self) -> jax.Array:
    """``[K, d, d]`` covariances, whatever the covariance type."""
    if self.covariance_type == "full":
      return self.covariances
    return jax.vmap(jnp.diag)(self.covariances)


# ----------------------------------------------------------------------------------------------
# k-means
# ----------------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("k", "num_local_trials"))
def kmeans_plusplus(rng: jax.Array, x: ArrayLike, k: int,
                    num_local_trials: int | None = None) -> jax.Array:
  """Greedy k-means++ seeding (Arthur and Vassilvitskii 2007; scikit-learn's variant).

  Each new centre is the best of ``num_local_trials`` candidates drawn with probability
  proportional to the squared distance to the nearest chosen centre.

  Args:
    rng: a ``jax.random.key``.
    x: ``[n, d]`` data.
    k: number of centres.
    num_local_trials: candidates per centre; ``2 + int(log k)`` by default.

  Returns:
    ``[k, d]`` centres (rows of ``x``).
  """
  x = jnp.asarray(x, jnp.float32)
  n = x.shape[0]
  trials = num_local_trials or 2 + int(math.log(k))
  rng, first = jax.random.split(rng)
  i0 = jax.random.randint(first, (), 0, n)
  centers = jnp.zeros((k, x.shape[1]), x.dtype).at[0].set(x[i0])
  closest = pairwise_sqeuclidean(x, x[i0][None])[:, 0]

  def body(j, carry):
    centers, closest = carry
    key = jax.random.fold_in(rng, j)
    logits = jnp.log(jnp.maximum(closest, 1e-30))
    logits = jnp.where(closest.sum() > 0, logits, jnp.zeros_like(logits))
    cand = jax.random.categorical(key, logits, shape=(trials,))
    d_cand = jnp.minimum(closest[None, :], pairwise_sqeuclidean(x[cand], x).reshape(trials, n))
    best = jnp.argmin(d_cand.sum(-1))
    return centers.at[j].set(x[cand[best]]), d_cand[best]

  centers, _ = jax.lax.fori_loop(1, k, body, (centers, closest))
  return centers


@flax.struct.dataclass
class KMeansResult:
  """Output of :func:`kmeans`: ``centers [K, d]``, ``labels [n]``, ``inertia``, ``num_iters``."""

  centers: jax.Array
  labels: jax.Array
  inertia: jax.Array
  num_iters: jax.Array


@functools.partial(jax.jit, static_argnames=("num_iters",))
def _lloyd(x: jax.Array, centers: jax.Array, num_iters: int, tol: float) -> KMeansResult:
  k = centers.shape[0]
  threshold = tol * jnp.mean(jnp.var(x, axis=0))

  def update(centers):
    labels = jnp.argmin(pairwise_sqeuclidean(x, centers), -1)
    onehot = jax.nn.one_hot(labels, k, dtype=x.dtype)
    counts = onehot.sum(0)
    sums = linalg.matmul(onehot.T, x)
    # An empty cluster keeps its centre.
    return jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1.0)[:, None], centers)

  def cond(carry):
    _, shift, it = carry
    return (it < num_iters) & (shift > threshold)

  def body(carry):
    centers, _, it = carry
    new = update(centers)
    return new, jnp.sum((new - centers) ** 2), it + 1

  centers, _, it = jax.lax.while_loop(cond, body, (centers, jnp.inf, 0))
  d = pairwise_sqeuclidean(x, centers)
  labels = jnp.argmin(d, -1)
  inertia = jnp.sum(jnp.min(d, -1))
  return KMeansResult(centers, labels, inertia, it)


def kmeans(rng: jax.Array, x: ArrayLike, k: int, *, num_iters: int = 300, tol: float = 1e-4,
           n_init: int = 1, init: ArrayLike | None = None) -> KMeansResult:
  """k-means (Lloyd) from greedy k-means++ seeds; the best of ``n_init`` restarts.

  Args:
    rng: a ``jax.random.key``.
    x: ``[n, d]`` data.
    k: number of clusters (``1 <= k <= n``).
    num_iters: maximum Lloyd iterations.
    tol: stop when the squared centre shift is below ``tol * mean(var(x))`` (scikit-learn).
    n_init: number of k-means++ restarts (run in parallel with ``vmap``); keeps the lowest inertia.
    init: optional ``[k, d]`` initial centres (then ``rng`` is unused and ``n_init`` ignored).

  Returns:
    A :class:`KMeansResult`.
  """
  x = _checks.check_data(x, k=k)
  if init is not None:
    init = jnp.asarray(init, jnp.float32)
    if init.shape != (k, x.shape[1]):
      raise ValueError(f"init must have shape {(k, x.shape[1])}, got {init.shape}.")
    return _lloyd(x, init, num_iters, tol)
  keys = jax.random.split(rng, n_init)
  seeds = jax.vmap(lambda key: kmeans_plusplus(key, x, k))(keys)
  results = jax.vmap(lambda c: _lloyd(x, c, num_iters, tol))(seeds)
  best = jnp.argmin(results.inertia)
  return jax.tree.map(lambda a: a[best], results)


# ----------------------------------------------------------------------------------------------
# Gaussian mixtures
# ----------------------------------------------------------------------------------------------


def component_log_prob(params: GMMParams, x: ArrayLike) -> jax.Array:
  """``[n, K]`` log-densities ``log N(x_i; means_k, covariances_k)`` (weights not included)."""
  x = jnp.asarray(x)
  d = x.shape[-1]
  diff = x[:, None, :] - params.means[None]  # [n, K, d]
  if params.covariance_type == "diag":
    var = params.covariances
    maha = jnp.sum(diff**2 / var[None], -1)
    logdet = jnp.sum(jnp.log(var), -1)
  else:
    chol = jnp.linalg.cholesky(params.covariances)  # [K, d, d]
    sol = jax.vmap(lambda L, r: jax.scipy.linalg.solve_triangular(L, r.T, lower=True).T,
                   in_axes=(0, 1), out_axes=1)(chol, diff)
    maha = jnp.sum(sol**2, -1)
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), -1)
  return -0.5 * (d * jnp.log(2.0 * jnp.pi) + logdet[None] + maha)


def joint_log_prob(params: GMMParams, x: ArrayLike) -> jax.Array:
  """``[n, K]`` ``log weights_k + log N(x_i; means_k, covariances_k)``."""
  return jnp.log(params.weights)[None] + component_log_prob(params, x)


def log_likelihood(params: GMMParams, x: ArrayLike) -> jax.Array:
  """Mean log-likelihood ``(1/n) sum_i log sum_k w_k N(x_i; m_k, S_k)`` (sklearn's ``score``)."""
  return jnp.mean(jax.nn.logsumexp(joint_log_prob(params, x), -1))


def predict_proba(params: GMMParams, x: ArrayLike) -> jax.Array:
  """``[n, K]`` posterior responsibilities ``p(c = k | x_i)``."""
  return jax.nn.softmax(joint_log_prob(params, x), -1)


def predict(params: GMMParams, x: ArrayLike) -> jax.Array:
  """``[n]`` MAP component of each point."""
  return jnp.argmax(joint_log_prob(params, x), -1)


def m_step(x: jax.Array, resp: jax.Array, covariance_type: str, reg_covar: float,
           equal_weights: bool = False) -> GMMParams:
  """Maximum-likelihood mixture from responsibilities ``resp [n, K]`` (sklearn's M-step).

  ``covariance_type="tied"``: one covariance shared by the components (sklearn's ``"tied"``),
  stored as ``K`` equal ``[d, d]`` matrices. ``equal_weights``: the weights stay ``1 / K`` (the
  maximum-likelihood mixture among those with equal proportions).
  """
  eps = jnp.finfo(x.dtype).eps
  nk = resp.sum(0) + 10.0 * eps  # [K]
  means = linalg.matmul(resp.T, x) / nk[:, None]
  weights = jnp.full_like(nk, 1.0 / nk.shape[0]) if equal_weights else nk / x.shape[0]
  if covariance_type == "tied":
    cov = (linalg.matmul(x.T, x) - linalg.matmul(nk * means.T, means)) / jnp.sum(nk)
    cov = 0.5 * (cov + cov.T) + reg_covar * jnp.eye(x.shape[1], dtype=x.dtype)
    return GMMParams(weights, means, jnp.broadcast_to(cov, (nk.shape[0],) + cov.shape))
  if covariance_type == "full":
    diff = x[None] - means[:, None]  # [K, n, d]
    cov = linalg.einsum("kn,kni,knj->kij", resp.T, diff, diff) / nk[:, None, None]
    cov = 0.5 * (cov + jnp.swapaxes(cov, -1, -2))
    cov = cov + reg_covar * jnp.eye(x.shape[1], dtype=x.dtype)
  else:
    avg_x2 = linalg.matmul(resp.T, x * x) / nk[:, None]
    cov = jnp.maximum(avg_x2 - means**2, 0.0) + reg_covar
  return GMMParams(weights, means, cov)


@flax.struct.dataclass
class GMMInfo:
  """Diagnostics of :func:`fit_gmm`: final mean log-likelihood, iterations, convergence flag."""

  log_likelihood: jax.Array
  num_iters: jax.Array
  converged: jax.Array


@functools.partial(jax.jit, static_argnames=("covariance_type", "num_iters", "equal_weights"))
def _em(x: jax.Array, params: GMMParams, covariance_type: str, num_iters: int, tol: float,
        reg_covar: float, equal_weights: bool = False) -> tuple[GMMParams, GMMInfo]:

  def cond(carry):
    _, ll, prev, it = carry
    return (it < num_iters) & (jnp.abs(ll - prev) >= tol)

  def body(carry):
    params, ll, _, it = carry
    logp = joint_log_prob(params, x)
    resp = jax.nn.softmax(logp, -1)
    new_ll = jnp.mean(jax.nn.logsumexp(logp, -1))
    return m_step(x, resp, covariance_type, reg_covar, equal_weights), new_ll, ll, it + 1

  init = (params, jnp.array(-jnp.inf, x.dtype), jnp.array(jnp.inf, x.dtype), 0)
  params, ll, prev, it = jax.lax.while_loop(cond, body, init)
  final_ll = log_likelihood(params, x)
  return params, GMMInfo(final_ll, it, jnp.abs(ll - prev) < tol)


def initial_responsibilities(rng: jax.Array, x: jax.Array, k: int, init: str) -> jax.Array:
  """``[n, K]`` hard (k-means, k-means++) or random soft responsibilities to start EM."""
  if init == "kmeans":
    labels = kmeans(rng, x, k, n_init=1).labels
  elif init == "k-means++":
    labels = jnp.argmin(pairwise_sqeuclidean(x, kmeans_plusplus(rng, x, k)), -1)
  elif init == "random":
    r = jax.random.uniform(rng, (x.shape[0], k), x.dtype)
    return r / r.sum(-1, keepdims=True)
  else:
    raise ValueError(f"Unknown GMM init {init!r}; valid: {GMM_INITS}.")
  return jax.nn.one_hot(labels, k, dtype=x.dtype)


def fit_gmm(rng: jax.Array, x: ArrayLike, k: int, *, covariance_type: str = "full",
            num_iters: int = 100, tol: float = 1e-3, reg_covar: float = 1e-6,
            init: str = "kmeans", params_init: GMMParams | None = None, n_init: int = 1,
            equal_weights: bool = False) -> tuple[GMMParams, GMMInfo]:
  """Fits a ``k``-component Gaussian mixture to ``x`` by EM.

  Args:
    rng: a ``jax.random.key`` (for the initialisation).
    x: ``[n, d]`` data.
    k: number of components (``1 <= k <= n``).
    covariance_type: ``"full"``, ``"diag"`` or ``"tied"`` (one covariance for all components,
      returned as ``K`` equal full matrices).
    num_iters: maximum EM iterations (scikit-learn's ``max_iter``).
    tol: stop when the mean log-likelihood changes by less than ``tol``.
    reg_covar: added to every covariance diagonal (keeps degenerate components finite).
    init: ``"kmeans"`` (k-means from k-means++ seeds), ``"k-means++"`` or ``"random"``.
    params_init: optional starting mixture (then ``init`` and ``n_init`` are not used).
    n_init: number of initialisations (keys ``split(rng, n_init)``, run with ``vmap``); keeps the
      fit of highest final log-likelihood (scikit-learn's ``n_init``). ``n_init = 1`` uses ``rng``
      itself.
    equal_weights: keep the weights at ``1 / k`` (a mixture of equal proportions; EM updates the
      means and covariances only).

  Returns:
    ``(params, info)``: the fitted :class:`GMMParams` and a :class:`GMMInfo`.

  Raises:
    ValueError: for ``k`` larger than the number of points, NaN/inf data, an unknown
      ``covariance_type`` or ``init``.
  """
  if covariance_type not in COVARIANCE_TYPES:
    raise ValueError(f"Unknown covariance_type {covariance_type!r}; valid: {COVARIANCE_TYPES}.")
  if init not in GMM_INITS:
    raise ValueError(f"Unknown GMM init {init!r}; valid: {GMM_INITS}.")
  x = _checks.check_data(x, k=k)
  if n_init < 1:
    raise ValueError(f"n_init must be >= 1, got {n_init}.")
  if params_init is None and n_init > 1:
    fits = jax.vmap(lambda key: fit_gmm(key, x, k, covariance_type=covariance_type,
                                        num_iters=num_iters, tol=tol, reg_covar=reg_covar,
                                        init=init, equal_weights=equal_weights)
                 )(jax.random.split(rng, n_init))
    best = jnp.argmax(jnp.where(jnp.isnan(fits[1].log_likelihood), -jnp.inf,
                                fits[1].log_likelihood))
    return jax.tree.map(lambda a: a[best], fits)
  if params_init is None:
    resp = initial_responsibilities(rng, x, k, init)
    params_init = m_step(x, resp, covariance_type, reg_covar, equal_weights)
  elif params_init.covariance_type != ("diag" if covariance_type == "diag" else "full"):
    raise ValueError(f"params_init has covariance type {params_init.covariance_type!r}, "
                     f"expected {covariance_type!r}.")
  return _em(x, params_init, covariance_type, num_iters, tol, reg_covar, equal_weights)
