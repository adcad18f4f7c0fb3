"""DiWaC: discriminative Wasserstein clustering (thesis 000), models and pure steps.

A soft-assignment network ``tau(h) = softmax(g(h))`` (``h``: the input it clusters, e.g. the codes
of a pretrained encoder) and ``M`` independent critics (one per cluster for ``L^OvR_n``, one per
pair for ``L^OvO``), stored as one stacked parameter pytree and evaluated with ``vmap``. Both the
critics and the assignment network *ascend* the separation loss
(:mod:`wassml.clustering.diwac_losses`): the critics estimate the distances (dual with a gradient
penalty), the assignment network moves mass so that the clusters are far apart.

Batches are dicts: ``{"h": [B, F] assignment inputs, "x": [B, D] critic inputs}`` (``x`` is the
space where the distances are measured; it may be ``h`` itself).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from wassml import ot
from wassml.clustering import diwac_losses as dl
from wassml.nn import MLP, Critic
from wassml.train import TrainState


@flax.struct.dataclass
class DiwacState:
  """Assignment network and stacked critics (params with a leading ``[M]`` axis)."""

  assign: TrainState
  critics: TrainState


def create_state(rng: jax.Array, num_clusters: int, assign_dim: int, critic_dim: int,
                 tx: optax.GradientTransformation, *, loss: str = "ovr_n",
                 assign_hidden: Sequence[int] = (64,), critic_hidden: Sequence[int] = (64, 64),
                 critic_tx: optax.GradientTransformation | None = None) -> DiwacState:
  """Builds the assignment MLP ``[B, assign_dim] -> [B, K]`` and the critics for ``loss``."""
  if num_clusters < 2:
    raise ValueError(f"DiWaC needs at least 2 clusters, got {num_clusters}.")
  m = dl.num_critics(loss, num_clusters)
  k_a, k_c = jax.random.split(rng)
  assign = MLP(hidden=tuple(assign_hidden), num_outputs=num_clusters)
  a_params = assign.init(k_a, jnp.zeros((1, assign_dim)))["params"]
  critic = Critic(hidden=tuple(critic_hidden))
  c_params = jax.vmap(lambda k: critic.init(k, jnp.zeros((1, critic_dim)))["params"])(
      jax.random.split(k_c, m))
  return DiwacState(
      assign=TrainState.create(apply_fn=assign.apply, params=a_params, tx=tx),
      critics=TrainState.create(apply_fn=critic.apply, params=c_params, tx=critic_tx or tx))


def soft_assign(state: DiwacState, h: ArrayLike, params=None) -> jax.Array:
  """``[B, K]`` soft assignments ``tau(h)``."""
  p = state.assign.params if params is None else params
  return jax.nn.softmax(state.assign.apply_fn({"params": p}, h), -1)


def critic_values(state: DiwacState, x: ArrayLike, params=None) -> jax.Array:
  """``[B, M]`` values of every critic at ``x [B, D]``."""
  p = state.critics.params if params is None else params
  return jax.vmap(lambda q: state.critics.apply_fn({"params": q}, x), out_axes=1)(p)



def proportions(state: DiwacState, h: ArrayLike) -> jax.Array:
  """``[K]`` the explicit proportion estimate ``pi_k = mean_i tau_k(h_i)``."""
  return dl.proportions(soft_assign(state, h))


def predict(state: DiwacState, h: ArrayLike) -> jax.Array:
  """``[B]`` hard clusters ``argmax_k tau_k(h)``."""
  return jnp.argmax(state.assign.apply_fn({"params": state.assign.params}, h), -1)


def critic_step(state: DiwacState, batch: dict, rng: jax.Array, *, loss: str,
                gp_weight: float = 10.0) -> tuple[DiwacState, dict]:
  """One ascent step of all critics on their dual estimates minus the gradient penalty.

  Critic ``c`` maximises ``sum_i (A[c, i] - B[c, i]) f_c(x_i) - gp_weight GP_c`` with the two
  weighted measures of :func:`wassml.clustering.diwac_losses.critic_weights` (``tau`` fixed);
  the penalty is taken on segments between points drawn from ``A[c]`` and from ``B[c]``.
  """
  x = batch["x"]
  tau = jax.lax.stop_gradient(soft_assign(state, batch["h"]))
  a, b = dl.critic_weights(loss, tau)  # [M, B]
  m, n = a.shape
  keys = jax.random.split(rng, m)

  def one(params, a_c, b_c, key):
    f = lambda v: state.critics.apply_fn({"params": params}, v)
    k_a, k_b, k_gp = jax.random.split(key, 3)
    ia = jax.random.categorical(k_a, jnp.log(jnp.maximum(a_c, 1e-30)), shape=(n,))
    ib = jax.random.categorical(k_b, jnp.log(jnp.maximum(b_c, 1e-30)), shape=(n,))
    dual = jnp.sum((a_c - b_c) * f(x))
    gp = ot.gradient_penalty(k_gp, f, x[ia], x[ib])
    return -dual + gp_weight * gp, dual

  def loss_fn(params):
    losses, duals = jax.vmap(one)(params, a, b, keys)
    return jnp.sum(losses), duals

  (total, duals), g = jax.value_and_grad(loss_fn, has_aux=True)(state.critics.params)
  state = state.replace(critics=state.critics.apply_gradients(grads=g))
  return state, {"critic_loss": total, "mean_w": jnp.mean(duals)}


def assign_step(state: DiwacState, batch: dict, rng: jax.Array, *, loss: str
                ) -> tuple[DiwacState, dict]:
  """One ascent step of the assignment network on the separation ``loss`` (critics fixed)."""
  del rng
  vals = jax.lax.stop_gradient(critic_values(state, batch["x"]))

  def objective(params):
    tau = soft_assign(state, batch["h"], params)
    return -dl.separation(loss, tau, vals), tau

  (neg, tau), g = jax.value_and_grad(objective, has_aux=True)(state.assign.params)
  pi = dl.proportions(tau)
  state = state.replace(assign=state.assign.apply_gradients(grads=g))
  return state, {"separation": -neg, "max_proportion": jnp.max(pi),
                 "min_proportion": jnp.min(pi)}


def diwac_step(state: DiwacState, batch: dict, rng: jax.Array, *, loss: str = "ovr_n",
               num_critic: int = 5, gp_weight: float = 10.0) -> tuple[DiwacState, dict]:
  """``num_critic`` critic steps, then one assignment step, on the same minibatch."""
  keys = jax.random.split(rng, num_critic + 1)

  def body(st, key):
    return critic_step(st, batch, key, loss=loss, gp_weight=gp_weight)

  state, cm = jax.lax.scan(body, state, keys[:num_critic])
  state, am = assign_step(state, batch, keys[-1], loss=loss)
  return state, {**am, "critic_loss": cm["critic_loss"][-1], "mean_w": cm["mean_w"][-1]}


def distill_step(state: DiwacState, batch: dict, rng: jax.Array) -> tuple[DiwacState, dict]:
  """Cross-entropy step of ``tau`` towards given posteriors ``batch["target"] [B, K]``.

  Used to start DiWaC from another clustering (e.g. AE + GMM responsibilities).
  """
  del rng

  def loss_fn(params):
    logits = state.assign.apply_fn({"params": params}, batch["h"])
    return jnp.mean(optax.softmax_cross_entropy(logits, batch["target"]))

  loss, g = jax.value_and_grad(loss_fn)(state.assign.params)
  return state.replace(assign=state.assign.apply_gradients(grads=g)), {"distill_loss": loss}
