"""Generic WGAN-GP step functions (shared by ARWGAN and the generative family).

The critic objective is the one shared WGAN-GP loss :func:`wassml.ot.critic_loss`
(``-(E_a f(real) - E f(fake)) + lambda * gradient_penalty``, with optional weights ``a`` on the
real samples -- ARWGAN's reweighted data distribution). The generator minimises
``-E f(G(z))``, ``z ~ N(0, I)``.

``make_wgan_step`` returns one pure ``step(state, batch, rng) -> (state, metrics)`` doing
``n_critic`` critic updates (a ``lax.scan`` over ``batch["x"]: [n_critic, B, ...]``) followed by
one generator update.

Example::

  state = create_gan_state(key, generator, critic, latent_dim=64, example_x=x[:1],
                           tx_generator=optax.adam(1e-4, 0.5, 0.9),
                           tx_critic=optax.adam(1e-4, 0.5, 0.9))
  step = jax.jit(make_wgan_step(latent_dim=64, n_critic=5))
  state, metrics = step(state, {"x": real_batches}, key)
"""

from __future__ import annotations

from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax.training import train_state
from jax.typing import ArrayLike

from wassml import ot


@flax.struct.dataclass
class GANState:
  """Generator and critic train states (a pytree: jit / vmap / checkpoint it as one)."""

  generator: train_state.TrainState
  critic: train_state.TrainState


def create_gan_state(rng: jax.Array, generator: nn.Module, critic: nn.Module, *, latent_dim: int,
                     example_x: ArrayLike, tx_generator: optax.GradientTransformation,
                     tx_critic: optax.GradientTransformation) -> GANState:
  """Initialises a generator ``z [n, latent_dim] -> x [n, ...]`` and a critic ``x -> [n]``."""
  kg, kc = jax.random.split(rng)
  pg = generator.init(kg, jnp.zeros((1, latent_dim)))["params"]
  pc = critic.init(kc, jnp.asarray(example_x))["params"]
  return GANState(
      generator=train_state.TrainState.create(apply_fn=generator.apply, params=pg,
                                              tx=tx_generator),
      critic=train_state.TrainState.create(apply_fn=critic.apply, params=pc, tx=tx_critic))


def generate(rng: jax.Array, state: GANState, num: int, latent_dim: int) -> jax.Array:
  """Draws ``num`` samples ``G(z)``, ``z ~ N(0, I)``: ``[num, ...]``."""
  z = jax.random.normal(rng, (num, latent_dim))
  return state.generator.apply_fn({"params": state.generator.params}, z)


def critic_step(state: GANState, batch: dict[str, Any], rng: jax.Array, *, latent_dim: int,
                gp_weight: float = 10.0) -> tuple[GANState, dict[str, jax.Array]]:
  """One critic update on ``batch["x"]: [B, ...]`` (optional ``batch["weights"]: [B]``).

  Returns the new state and ``{"critic_loss", "w1"}`` (``w1``: the critic's estimate of
  ``W_1(real_a, fake)``).
  """
  k_fake, k_gp = jax.random.split(rng)
  real = batch["x"]
  fake = jax.lax.stop_gradient(generate(k_fake, state, real.shape[0], latent_dim))

  def loss_fn(params):
    critic_fn = lambda x: state.critic.apply_fn({"params": params}, x)
    return ot.critic_loss(k_gp, critic_fn, real, fake, gp_weight=gp_weight,
                          real_weights=batch.get("weights"))

  (loss, w1), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.critic.params)
  critic = state.critic.apply_gradients(grads=grads)
  return state.replace(critic=critic), {"critic_loss": loss, "w1": w1}


def generator_step(state: GANState, batch_size: int, rng: jax.Array, *, latent_dim: int
                   ) -> tuple[GANState, dict[str, jax.Array]]:
  """One generator update minimising ``-mean f(G(z))`` over ``batch_size`` latent draws."""
  z = jax.random.normal(rng, (batch_size, latent_dim))

  def loss_fn(params):
    fake = state.generator.apply_fn({"params": params}, z)
    return -jnp.mean(state.critic.apply_fn({"params": state.critic.params}, fake))

  loss, grads = jax.value_and_grad(loss_fn)(state.generator.params)
  generator = state.generator.apply_gradients(grads=grads)
  return state.replace(generator=generator), {"generator_loss": loss}


def make_wgan_step(*, latent_dim: int, n_critic: int = 5, gp_weight: float = 10.0):
  """``step(state, batch, rng) -> (state, metrics)``: ``n_critic`` critic steps, 1 generator step.

  ``batch["x"]`` is ``[n_critic, B, ...]`` (one real minibatch per critic step) and the optional
  ``batch["weights"]`` is ``[n_critic, B]``. Metrics are the last critic step's ``critic_loss``
  and ``w1`` and the ``generator_loss``.
  """
  if int(n_critic) < 1:
    raise ValueError(f"n_critic must be >= 1, got {n_critic!r}.")

  def step(state: GANState, batch: dict[str, Any], rng: jax.Array):
    x = batch["x"]
    if x.shape[0] != n_critic:
      raise ValueError(f"batch['x'] must be [n_critic={n_critic}, B, ...], got {x.shape}.")

    def body(st, inp):
      i, sub = inp
      return critic_step(st, sub, jax.random.fold_in(rng, i), latent_dim=latent_dim,
                         gp_weight=gp_weight)

    state, cm = jax.lax.scan(body, state, (jnp.arange(n_critic), batch))
    state, gm = generator_step(state, x.shape[1], jax.random.fold_in(rng, n_critic),
                               latent_dim=latent_dim)
    return state, {"critic_loss": cm["critic_loss"][-1], "w1": cm["w1"][-1], **gm}

  return step
