"""DiWaC losses: push the cluster distributions apart in Wasserstein distance (thesis 000).

Data ``x ~ p = sum_k pi_k p_k``; a soft assignment ``tau(x) = [P(c = k | x)]_k`` defines the
clusters ``p_k(x) = p(x) tau_k(x) / pi_k`` with proportions ``pi_k = E_p[tau_k]`` (estimated on the
minibatch: :func:`proportions`). Every ``W`` is a Kantorovich–Rubinstein dual estimate
``E_{p_k} f - E_{q} f`` with a critic ``f`` (one per pair for one-vs-one, one per cluster for
one-vs-rest); with optimal 1-Lipschitz critics the estimates equal the distances.

* ``L^OvO_u = (1/K^2) sum_{k,k'} W(p_k, p_k')``
* ``L^OvO_n = sum_{k,k'} pi_k pi_k' W(p_k, p_k')``
* ``L^OvR_n = sum_k pi_k (1 - pi_k) W(p_k, pbar_k) = E_x[sum_k (tau_k(x) - pi_k) C_k(x)]``,
  ``pbar_k = p (1 - tau_k) / (1 - pi_k)`` (the rest), ``C_k`` the critic of cluster ``k``.

All losses are written for one minibatch ``tau [n, K]`` and critic values at the same points;
they are *values to maximise* (the clustering network and the critics both ascend them).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

_EPS = 1e-8


def proportions(tau: ArrayLike) -> jax.Array:
  """``[K]`` the explicit proportion estimate ``pi_k = (1/n) sum_i tau_k(x_i)``."""
  return jnp.mean(jnp.asarray(tau), 0)


def cluster_weights(tau: ArrayLike) -> jax.Array:
  """``[K, n]`` weights of ``p_k`` on the batch: ``tau_k(x_i) / sum_j tau_k(x_j)``."""
  tau = jnp.asarray(tau)
  return tau.T / jnp.maximum(tau.sum(0), _EPS)[:, None]


def rest_weights(tau: ArrayLike) -> jax.Array:
  """``[K, n]`` weights of ``pbar_k`` (all clusters but ``k``): ``(1 - tau_k) / sum(1 - tau_k)``."""
  rest = 1.0 - jnp.asarray(tau)
  return rest.T / jnp.maximum(rest.sum(0), _EPS)[:, None]


def pair_indices(k: int) -> tuple[np.ndarray, np.ndarray]:
  """The ``K (K - 1) / 2`` pairs ``k < k'`` (static), one critic each for one-vs-one."""
  return np.triu_indices(k, 1)


def pairwise_dual_estimates(tau: ArrayLike, pair_values: ArrayLike) -> jax.Array:
  """``[M]`` dual estimates ``E_{p_k} f_m - E_{p_k'} f_m`` for the pairs of :func:`pair_indices`.

  Args:
    tau: ``[n, K]`` soft assignments.
    pair_values: ``[n, M]`` values ``f_m(x_i)`` of the pair critics, ``M = K (K - 1) / 2``.
  """
  w = cluster_weights(tau)  # [K, n]
  i, j = pair_indices(w.shape[0])
  return jnp.sum((w[i] - w[j]) * jnp.asarray(pair_values).T, -1)


def ovo_loss(tau: ArrayLike, pair_values: ArrayLike, *, normalized: bool) -> jax.Array:
  """One-vs-one separation ``L^OvO_n`` (``normalized=True``) or ``L^OvO_u``.

  ``W(p_k, p_k) = 0`` and ``W`` is symmetric, so the double sum is twice the sum over pairs
  ``k < k'``. For ``L^OvO_n`` the weights ``pi_k pi_k'`` cancel the ``1/pi`` of the cluster
  weights: ``pi_k pi_k' (E_{p_k} f - E_{p_k'} f) = (1/n) sum_i (pi_k' tau_k - pi_k tau_k') f``,
  which stays finite when a cluster empties.

  Args:
    tau: ``[n, K]`` soft assignments.
    pair_values: ``[n, M]`` pair-critic values.
    normalized: weight by ``pi_k pi_k'`` (``L^OvO_n``) or by ``1/K^2`` (``L^OvO_u``).

  Returns:
    The scalar loss (to maximise).
  """
  tau = jnp.asarray(tau)
  k = tau.shape[1]
  if not normalized:
    return 2.0 * jnp.sum(pairwise_dual_estimates(tau, pair_values)) / k**2
  pi = proportions(tau)
  i, j = pair_indices(k)
  diff = pi[j][None] * tau[:, i] - pi[i][None] * tau[:, j]  # [n, M]
  return 2.0 * jnp.mean(jnp.sum(diff * jnp.asarray(pair_values), -1))


def ovr_loss(tau: ArrayLike, critic_values: ArrayLike) -> jax.Array:
  """One-vs-rest separation in closed form ``E_x[sum_k (tau_k(x) - pi_k) C_k(x)]``.

  Args:
    tau: ``[n, K]`` soft assignments.
    critic_values: ``[n, K]`` values ``C_k(x_i)`` of the per-cluster critics.
  """
  tau = jnp.asarray(tau)
  pi = proportions(tau)
  return jnp.mean(jnp.sum((tau - pi[None]) * jnp.asarray(critic_values), -1))


def ovr_dual_estimates(tau: ArrayLike, critic_values: ArrayLike) -> jax.Array:
  """``[K]`` dual estimates ``E_{p_k} C_k - E_{pbar_k} C_k`` of ``W(p_k, pbar_k)``."""
  c = jnp.asarray(critic_values).T  # [K, n]
  return jnp.sum((cluster_weights(tau) - rest_weights(tau)) * c, -1)


def ovr_loss_definition(tau: ArrayLike, critic_values: ArrayLike) -> jax.Array:
  """``L^OvR_n`` from its definition ``sum_k pi_k (1 - pi_k) W(p_k, pbar_k)`` (for checks)."""
  pi = proportions(tau)
  return jnp.sum(pi * (1.0 - pi) * ovr_dual_estimates(tau, critic_values))


LOSSES = ("ovo_u", "ovo_n", "ovr_n")


def num_critics(loss: str, k: int) -> int:
  """Critics needed by ``loss``: ``K (K-1) / 2`` pair critics (OvO) or ``K`` (OvR)."""
  if loss not in LOSSES:
    raise ValueError(f"Unknown DiWaC loss {loss!r}; valid: {LOSSES}.")
  return k if loss == "ovr_n" else k * (k - 1) // 2


def separation(loss: str, tau: ArrayLike, critic_values: ArrayLike) -> jax.Array:
  """Dispatches to ``L^OvO_u`` (``"ovo_u"``), ``L^OvO_n`` (``"ovo_n"``) or ``L^OvR_n``."""
  if loss == "ovo_u":
    return ovo_loss(tau, critic_values, normalized=False)
  if loss == "ovo_n":
    return ovo_loss(tau, critic_values, normalized=True)
  if loss == "ovr_n":
    return ovr_loss(tau, critic_values)
  raise ValueError(f"Unknown DiWaC loss {loss!r}; valid: {LOSSES}.")


def critic_weights(loss: str, tau: ArrayLike) -> tuple[jax.Array, jax.Array]:
  """``([C, n], [C, n])`` the two weighted measures each critic separates.

  Critic ``c`` estimates ``W(a_c, b_c)`` with ``a_c = sum_i A[c, i] delta_{x_i}`` and
  ``b_c = sum_i B[c, i] delta_{x_i}``: ``(p_k, p_k')`` per pair (OvO) or ``(p_k, pbar_k)`` (OvR).
  """
  if loss == "ovr_n":
    return cluster_weights(tau), rest_weights(tau)
  w = cluster_weights(tau)
  i, j = pair_indices(w.shape[0])
  return w[i], w[j]
