"""The trainable (reparametrised) Gaussian mixture of WAMiC / GeWaC.

``z = S_k e + m_k`` with ``e ~ N(0, I)`` and ``S_k`` lower triangular with an ``exp`` diagonal
(WAMiC eq. 7), so ``Sigma_k = S_k S_k^T`` stays positive definite under any gradient step, and
``pi = softmax(logits)`` keeps the proportions on the simplex. Mixtures with different ``K`` can
be padded to a common ``K_max`` (:func:`pad`): padded components have ``logits = -inf``-like values,
so ``pi_k = 0`` exactly, they receive zero gradient and are never chosen by the MAP rule; this
is how models with several ``K`` are trained in one vmapped call.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.clustering.gmm import GMMParams
from wassml.utils import linalg

PAD_LOGIT = -1e9


@flax.struct.dataclass
class MixtureParams:
  """Unconstrained mixture parameters (a pytree, optimised by Optax).

  Attributes:
    logits: ``[K]``; ``pi = softmax(logits)``.
    means: ``[K, d]``.
    raw_scale: ``[K, d, d]``; its strict lower triangle and ``exp`` of its diagonal give ``S_k``.
  """

  logits: jax.Array
  means: jax.Array
  raw_scale: jax.Array

  @property
  def num_components(self) -> int:
    return self.means.shape[-2]


def proportions(params: MixtureParams) -> jax.Array:
  """``[K]`` mixture proportions ``pi``."""
  return jax.nn.softmax(params.logits, -1)


def scale_tril(params: MixtureParams) -> jax.Array:
  """``[K, d, d]`` Cholesky factors ``S_k`` (lower triangular, positive diagonal)."""
  raw = params.raw_scale
  diag = jnp.exp(jnp.diagonal(raw, axis1=-2, axis2=-1))
  return jnp.tril(raw, -1) + diag[..., None] * jnp.eye(raw.shape[-1], dtype=raw.dtype)


def covariances(params: MixtureParams) -> jax.Array:
  """``[K, d, d]`` covariances ``S_k S_k^T``."""
  s = scale_tril(params)
  return linalg.matmul(s, jnp.swapaxes(s, -1, -2))


def from_gmm(gmm: GMMParams) -> MixtureParams:
  """The reparametrisation of a fitted :class:`~wassml.clustering.gmm.GMMParams`."""
  chol = jnp.linalg.cholesky(gmm.full_covariances())
  diag = jnp.diagonal(chol, axis1=-2, axis2=-1)
  raw = jnp.tril(chol, -1) + jax.vmap(jnp.diag)(jnp.log(diag))
  return MixtureParams(jnp.log(gmm.weights), gmm.means, raw)


def to_gmm(params: MixtureParams) -> GMMParams:
  """The mixture as :class:`~wassml.clustering.gmm.GMMParams` (full covariances)."""
  return GMMParams(proportions(params), params.means, covariances(params))


def pad(params: MixtureParams, k_max: int) -> MixtureParams:
  """Pads to ``k_max`` components; the extra ones have zero weight and a unit covariance."""
  k, d = params.means.shape
  if k > k_max:
    raise ValueError(f"Cannot pad a mixture of K={k} components to k_max={k_max}.")
  extra = k_max - k
  return MixtureParams(
      jnp.concatenate([params.logits, jnp.full((extra,), PAD_LOGIT, params.logits.dtype)]),
      jnp.concatenate([params.means, jnp.zeros((extra, d), params.means.dtype)]),
      jnp.concatenate([params.raw_scale, jnp.zeros((extra, d, d), params.raw_scale.dtype)]),
  )


def active(params: MixtureParams) -> jax.Array:
  """``[K]`` bool: the components that are not padding."""
  return params.logits > PAD_LOGIT / 2


def sample_components(rng: jax.Array, params: MixtureParams, num_per_component: int) -> jax.Array:
  """Reparametrised draws ``z_k = S_k e + m_k``: ``[K, num_per_component, d]``."""
  k, d = params.means.shape
  e = jax.random.normal(rng, (k, num_per_component, d), params.means.dtype)
  return linalg.einsum("kij,knj->kni", scale_tril(params), e) + params.means[:, None]


def stratified_components(rng: jax.Array, params: MixtureParams, n: int) -> jax.Array:
  """``[n]`` components by systematic sampling: ``c_i = F^{-1}((i + u) / n)``, ``u ~ U[0, 1)``,
  ``F`` the cumulative proportions. Component ``k`` gets ``floor(n pi_k)`` or ``ceil(n pi_k)``
  draws (no multinomial noise in the counts); padded components (``pi_k = 0``) get none."""
  cdf = jnp.cumsum(proportions(params))
  t = (jnp.arange(n) + jax.random.uniform(rng, ())) / n
  return jnp.minimum(jnp.searchsorted(cdf, t * cdf[-1], side="right"),
                     params.means.shape[0] - 1)


def sample(rng: jax.Array, params: MixtureParams, n: int, *, stratified: bool = False
           ) -> tuple[jax.Array, jax.Array]:
  """Draws ``c ~ Cat(pi)``, ``z ~ N(m_c, Sigma_c)``: ``(z [n, d], c [n])``.

  ``stratified=True`` draws the components by :func:`stratified_components` (the counts per
  component are ``n pi_k`` rounded), which removes the multinomial noise of the cluster sizes from
  comparisons between generated and real samples.
  """
  rc, rz = jax.random.split(rng)
  if stratified:
    c = stratified_components(rc, params, n)
  else:
    c = jax.random.categorical(rc, params.logits, shape=(n,))
  e = jax.random.normal(rz, (n, params.means.shape[1]), params.means.dtype)
  s = scale_tril(params)[c]
  return linalg.einsum("nij,nj->ni", s, e) + params.means[c], c


def log_prob_components(params: MixtureParams, z: ArrayLike) -> jax.Array:
  """``[n, K]`` ``log pi_k + log N(z_i; m_k, Sigma_k)``."""
  z = jnp.asarray(z)
  s = scale_tril(params)
  diff = z[:, None, :] - params.means[None]
  sol = jax.vmap(lambda L, r: jax.scipy.linalg.solve_triangular(L, r.T, lower=True).T,
                 in_axes=(0, 1), out_axes=1)(s, diff)
  logdet = 2.0 * jnp.sum(jnp.diagonal(params.raw_scale, axis1=-2, axis2=-1), -1)
  d = z.shape[-1]
  log_n = -0.5 * (d * jnp.log(2.0 * jnp.pi) + logdet[None] + jnp.sum(sol**2, -1))
  return jax.nn.log_softmax(params.logits)[None] + log_n


def posterior(params: MixtureParams, z: ArrayLike) -> jax.Array:
  """``[n, K]`` ``p(c = k | z)`` (WAMiC eq. 4 with ``z = E(x)``)."""
  return jax.nn.softmax(log_prob_components(params, z), -1)


def map_assign(params: MixtureParams, z: ArrayLike) -> jax.Array:
  """``[n]`` MAP cluster ``argmax_k pi_k N(z; m_k, Sigma_k)``."""
  return jnp.argmax(log_prob_components(params, z), -1)


def log_likelihood(params: MixtureParams, z: ArrayLike) -> jax.Array:
  """Mean log-likelihood of the codes ``z [n, d]``."""
  return jnp.mean(jax.nn.logsumexp(log_prob_components(params, z), -1))
