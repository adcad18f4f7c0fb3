"""WAMiC / GeWaC: Wasserstein adversarial mixture clustering (Harchaoui et al. 2018; thesis 000).

The four steps, each a pure step function ``step(state, batch, rng) -> (state, metrics)`` over one
combined :class:`WamicState` (encoder, decoder, mixture and critic train states):

1. :func:`autoencoder_step`: auto-encoder ``(E, D)`` by MSE.
2. EM on the codes (:func:`init_mixture`, with :func:`wassml.clustering.gmm.fit_gmm`).
3. :func:`critic_step` (critic warm-start, then inside the joint phase) and :func:`generator_step`
   (decoder and mixture, plus the encoder for GeWaC) minimise the WGAN-GP estimate of
   ``W(data, generated)``, generated ``y_k = D(S_k e + m_k)`` weighted by ``pi_k`` (eq. 9-12);
   :func:`adversarial_step` chains ``num_critic`` critic steps and one generator step.
   :func:`ot_generator_step` is a critic-free alternative (not in the paper): decoder and mixture
   descend the minibatch Sinkhorn divergence between data and generated points.
4. :func:`encoder_step`: a new encoder against the fixed decoder (MSE), then MAP clustering in code
   space (:func:`predict`).

GeWaC's concatenation trick (``concat=True``): the critic sees ``[x, E(x)]`` (real) against
``[D(z), z]`` (generated), and the generator step also trains the encoder.

Hyper-parameters of the steps are keyword-only and static: bind them with ``functools.partial``.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from wassml import ot
from wassml.clustering import _checks, gmm, mixture
from wassml.train import TrainState


@flax.struct.dataclass
class WamicState:
  """The combined state of WAMiC / GeWaC (a pytree).

  Attributes:
    encoder: encoder params of the :class:`wassml.nn.AutoEncoder` (``enc_*`` and ``code``).
    decoder: decoder params (``dec_*`` and ``reconstruction``).
    mixture: :class:`wassml.clustering.mixture.MixtureParams`.
    critic: the WGAN-GP critic.
    output_noise: ``sigma`` of the observation model ``x | z ~ N(D(z), sigma^2 I)`` (WAMiC eq. 2),
      added to generated data (:func:`generate`, :func:`sample_data`). 0 (the default) is the
      paper's ``sigma -> 0``; :func:`set_output_noise` sets it, e.g. to the auto-encoder's
      residual (:func:`residual_noise`).
  """

  encoder: TrainState
  decoder: TrainState
  mixture: TrainState
  critic: TrainState
  output_noise: jax.Array | float = 0.0


_ENCODER_PREFIXES = ("enc_", "code")


def split_autoencoder_params(params: dict) -> tuple[dict, dict]:
  """Splits :class:`wassml.nn.AutoEncoder` params into ``(encoder, decoder)`` dicts."""
  enc = {k: v for k, v in params.items() if k.startswith(_ENCODER_PREFIXES)}
  dec = {k: v for k, v in params.items() if not k.startswith(_ENCODER_PREFIXES)}
  return enc, dec


def _apply_method(module: nn.Module, method: str):
  def apply_fn(variables, x, **kwargs):
    return module.apply(variables, x, method=method, **kwargs)
  return apply_fn


def _mixture_apply(variables, z):
  return mixture.log_prob_components(variables["params"]["mixture"], z)


def mixture_params(state: WamicState) -> mixture.MixtureParams:
  """The current :class:`~wassml.clustering.mixture.MixtureParams` of the state."""
  return state.mixture.params["mixture"]


def create_state(rng: jax.Array, autoencoder: nn.Module, critic: nn.Module, example_x: ArrayLike,
                 num_clusters: int, tx: optax.GradientTransformation, *,
                 concat: bool = False) -> WamicState:
  """Initialises all four parts (the mixture is a placeholder until :func:`init_mixture`).

  Args:
    rng: a ``jax.random.key``.
    autoencoder: a :class:`wassml.nn.AutoEncoder` (``encode``/``decode`` methods).
    critic: a critic module ``[B, D] -> [B]`` (e.g. :class:`wassml.nn.Critic`).
    example_x: ``[B, D]`` an example batch.
    num_clusters: ``K``.
    tx: the optimiser of every part (change it per phase with :func:`set_optimizer`).
    concat: GeWaC's concatenation (the critic then sees ``D + d`` features).

  Raises:
    ValueError: a code dimension larger than the input dimension, or a bad ``num_clusters``.
  """
  example_x = jnp.asarray(example_x)
  input_dim = int(jnp.size(example_x[0]))
  code_dim = autoencoder.latent_dim
  _checks.check_code_dim(code_dim, input_dim)
  if num_clusters < 1:
    raise ValueError(f"num_clusters must be >= 1, got {num_clusters}.")
  k_ae, k_critic = jax.random.split(rng)
  params = autoencoder.init(k_ae, example_x[:1])["params"]
  enc, dec = split_autoencoder_params(params)
  critic_in = jnp.zeros((1, input_dim + (code_dim if concat else 0)), jnp.float32)
  critic_params = critic.init(k_critic, critic_in)["params"]
  mix = mixture.MixtureParams(jnp.zeros((num_clusters,)), jnp.zeros((num_clusters, code_dim)),
                              jnp.zeros((num_clusters, code_dim, code_dim)))
  make = lambda fn, p: TrainState(step=0, apply_fn=fn, params=p, tx=tx, opt_state=tx.init(p))
  return WamicState(
      encoder=make(_apply_method(autoencoder, "encode"), enc),
      decoder=make(_apply_method(autoencoder, "decode"), dec),
      mixture=make(_mixture_apply, {"mixture": mix}),
      critic=make(critic.apply, critic_params),
      output_noise=jnp.zeros((), jnp.float32),
  )


def set_optimizer(state: WamicState, tx: optax.GradientTransformation,
                  parts: tuple[str, ...] = ("encoder", "decoder", "mixture", "critic")
                  ) -> WamicState:
  """Gives ``parts`` a fresh optimiser ``tx`` (e.g. Adam 1e-5 for the adversarial phase)."""
  updates = {}
  for name in parts:
    ts = getattr(state, name)
    updates[name] = ts.replace(tx=tx, opt_state=tx.init(ts.params))
  return state.replace(**updates)


def encode(state: WamicState, x: ArrayLike, encoder_params: Any = None) -> jax.Array:
  """``x [B, D]`` -> codes ``[B, d]``."""
  p = state.encoder.params if encoder_params is None else encoder_params
  return state.encoder.apply_fn({"params": p}, x)


def decode(state: WamicState, z: ArrayLike, decoder_params: Any = None) -> jax.Array:
  """``z [B, d]`` -> data ``[B, D]``."""
  p = state.decoder.params if decoder_params is None else decoder_params
  return state.decoder.apply_fn({"params": p}, z)


def _critic_fn(state: WamicState, params: Any = None):
  p = state.critic.params if params is None else params
  return lambda v: state.critic.apply_fn({"params": p}, v)


def _flat(x: jax.Array) -> jax.Array:
  return jnp.reshape(x, (x.shape[0], -1))


# ----------------------------------------------------------------------------------------------
# Step 1: auto-encoder
# ----------------------------------------------------------------------------------------------


def reconstruction_loss(x: jax.Array, x_hat: jax.Array) -> jax.Array:
  """Mean over the batch of ``||x_hat - x||^2 / D`` (MSE per feature)."""
  return jnp.mean(jnp.square(_flat(x_hat) - _flat(x)))


def perturb_codes(rng: jax.Array, z: jax.Array, code_noise: float | jax.Array) -> jax.Array:
  """``z + code_noise * s * e`` with ``e ~ N(0, I)`` and ``s [d]`` the batch standard deviation of
  the codes ``z [B, d]`` (so the noise is relative to the code scale and rescaling the codes
  cannot escape it; gradients flow through ``s``). ``code_noise`` may be traced (a schedule's
  value); a Python 0 returns ``z`` unchanged."""
  if isinstance(code_noise, (int, float)) and not code_noise:
    return z
  s = jnp.sqrt(jnp.mean(jnp.square(z - jnp.mean(z, 0)), 0) + 1e-12)
  return z + code_noise * s * jax.random.normal(rng, z.shape, z.dtype)


def autoencoder_step(state: WamicState, batch: jax.Array, rng: jax.Array, *,
                     code_noise: float | optax.Schedule = 0.0) -> tuple[WamicState, dict]:
  """One MSE step on encoder and decoder (step 1). ``batch``: ``x [B, D]``.

  ``code_noise = 0`` is the vanilla auto-encoder of the paper. ``code_noise > 0`` decodes
  :func:`perturb_codes` (noise relative to the batch code scale): the decoder must then be smooth
  on the scale of the noise where the data lie, which spreads the codes of each dense region and
  opens gaps between separated regions of the data (a regularised auto-encoder, not in the paper).
  A callable ``code_noise`` is a schedule of the encoder's step count (annealing: a large noise
  first lays out the coarse order of the data along the code, a small one then refines it).
  The ``mse`` metric is the loss actually minimised (with the noise).
  """
  noise = code_noise(state.encoder.step) if callable(code_noise) else code_noise

  def loss_fn(enc, dec):
    z = perturb_codes(rng, encode(state, batch, enc), noise)
    return reconstruction_loss(batch, decode(state, z, dec))

  loss, (g_enc, g_dec) = jax.value_and_grad(loss_fn, argnums=(0, 1))(state.encoder.params,
                                                                     state.decoder.params)
  return state.replace(encoder=state.encoder.apply_gradients(grads=g_enc),
                       decoder=state.decoder.apply_gradients(grads=g_dec)), {"mse": loss}


# ----------------------------------------------------------------------------------------------
# Step 2: mixture by EM on the codes
# ----------------------------------------------------------------------------------------------


def init_mixture(state: WamicState, mix: mixture.MixtureParams) -> WamicState:
  """Puts ``mix`` (e.g. ``mixture.from_gmm(fit_gmm(...))``) in the state, fresh optimiser state."""
  ts = state.mixture
  params = {"mixture": mix}
  return state.replace(mixture=ts.replace(params=params, opt_state=ts.tx.init(params)))


def fit_code_mixture(rng: jax.Array, state: WamicState, x: ArrayLike, k: int, *,
                     covariance_type: str = "full", **gmm_kwargs) -> gmm.GMMParams:
  """Step 2: EM on the codes ``E(x)`` (full covariance as in the paper)."""
  params, _ = gmm.fit_gmm(rng, encode(state, x), k, covariance_type=covariance_type, **gmm_kwargs)
  return params


# ----------------------------------------------------------------------------------------------
# Step 3: adversarial fit of decoder and mixture
# ----------------------------------------------------------------------------------------------


def generate(rng: jax.Array, state: WamicState, num_per_component: int, *,
             decoder_params: Any = None, mixture_params: Any = None
             ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Reparametrised generation for every component.

  Returns:
    ``(y [K n, D], z [K n, d], weights [K n])`` with ``n = num_per_component``, rows grouped by
    component and ``weights = pi_k / n`` (they sum to one).
  """
  mix = state.mixture.params["mixture"] if mixture_params is None else mixture_params
  z = mixture.sample_components(rng, mix, num_per_component)  # [K, n, d]
  k, n, d = z.shape
  z = z.reshape(k * n, d)
  y = add_output_noise(jax.random.fold_in(rng, 1), state, decode(state, z, decoder_params))
  w = jnp.repeat(mixture.proportions(mix), n) / n
  return y, z, w


def add_output_noise(rng: jax.Array, state: WamicState, y: jax.Array) -> jax.Array:
  """``y + sigma e``, ``e ~ N(0, I)``, ``sigma = state.output_noise`` (eq. 2; 0: unchanged)."""
  return y + state.output_noise * jax.random.normal(rng, y.shape, y.dtype)


def sample_data(rng: jax.Array, state: WamicState, n: int, *, stratified: bool = False
                ) -> tuple[jax.Array, jax.Array]:
  """``n`` draws of the generative model: ``c ~ Cat(pi)``, ``z ~ N(m_c, Sigma_c)``,
  ``x = D(z) + sigma e``: ``(x [n, D], c [n])`` (``stratified``: see
  :func:`wassml.clustering.mixture.sample`)."""
  k_z, k_e = jax.random.split(rng)
  z, c = mixture.sample(k_z, mixture_params(state), n, stratified=stratified)
  return add_output_noise(k_e, state, decode(state, z)), c


def residual_noise(state: WamicState, x: ArrayLike) -> jax.Array:
  """The maximum-likelihood ``sigma`` of ``x = D(E(x)) + sigma e``: the root mean squared
  reconstruction error per feature on ``x [n, D]`` (label-free)."""
  x = jnp.asarray(x)
  return jnp.sqrt(reconstruction_loss(x, decode(state, encode(state, x))))


def set_output_noise(state: WamicState, sigma: ArrayLike) -> WamicState:
  """The state with observation noise ``sigma`` (see :class:`WamicState`)."""
  return state.replace(output_noise=jnp.asarray(sigma, jnp.float32))


def _real_fake(state, batch, rng, num_per_component, concat, enc=None, dec=None, mix=None):
  y, z, w = generate(rng, state, num_per_component, decoder_params=dec, mixture_params=mix)
  real = _flat(batch)
  fake = y
  if concat:
    real = jnp.concatenate([real, encode(state, batch, enc)], -1)
    fake = jnp.concatenate([fake, z], -1)
  return real, fake, w


def critic_step(state: WamicState, batch: jax.Array, rng: jax.Array, *, num_per_component: int,
                gp_weight: float = 10.0, concat: bool = False) -> tuple[WamicState, dict]:
  """One WGAN-GP critic ascent step on ``E_x f - sum_k pi_k E f(y_k) - GP`` (eq. 10).

  ``batch``: ``x [B, D]`` with ``B = K * num_per_component`` (real and generated are paired for
  the gradient penalty). Metrics: ``critic_loss``, ``w1`` (the Wasserstein estimate).
  """
  k_gen, k_gp = jax.random.split(rng)
  real, fake, w = _real_fake(state, batch, k_gen, num_per_component, concat)
  real, fake = jax.lax.stop_gradient(real), jax.lax.stop_gradient(fake)
  w = jax.lax.stop_gradient(w)

  def loss_fn(p):
    return ot.critic_loss(k_gp, _critic_fn(state, p), real, fake, gp_weight=gp_weight,
                          fake_weights=w)

  (loss, w1), g = jax.value_and_grad(loss_fn, has_aux=True)(state.critic.params)
  return state.replace(critic=state.critic.apply_gradients(grads=g)), {"critic_loss": loss,
                                                                        "w1": w1}


def _generator_update(state: WamicState, batch: jax.Array, rng: jax.Array, loss_of, *,
                      num_per_component: int, concat: bool, train_proportions: bool
                      ) -> tuple[WamicState, jax.Array]:
  """One descent step of decoder and mixture (and encoder with ``concat``) on
  ``loss_of(real [B, F], fake [K n, F], weights [K n])``; returns ``(state, loss)``."""

  def loss_fn(enc, dec, mix_tree):
    mix = mix_tree["mixture"]
    if not train_proportions:
      mix = mix.replace(logits=jax.lax.stop_gradient(mix.logits))
    return loss_of(*_real_fake(state, batch, rng, num_per_component, concat, enc, dec, mix))

  loss, (g_enc, g_dec, g_mix) = jax.value_and_grad(loss_fn, argnums=(0, 1, 2))(
      state.encoder.params, state.decoder.params, state.mixture.params)
  new = state.replace(decoder=state.decoder.apply_gradients(grads=g_dec),
                      mixture=state.mixture.apply_gradients(grads=g_mix))
  if concat:
    new = new.replace(encoder=state.encoder.apply_gradients(grads=g_enc))
  return new, loss


def generator_step(state: WamicState, batch: jax.Array, rng: jax.Array, *, num_per_component: int,
                   concat: bool = False, train_proportions: bool = True
                   ) -> tuple[WamicState, dict]:
  """One descent step of decoder and mixture (and encoder for GeWaC) on the critic's estimate.

  Minimises ``E_x f(x~) - sum_k pi_k E_e f(y~_k)`` (only the generated term depends on decoder and
  mixture; with ``concat`` the real term ``f([x, E(x)])`` depends on the encoder).
  """
  critic = _critic_fn(state)
  new, w1 = _generator_update(
      state, batch, rng, lambda real, fake, w: jnp.mean(critic(real)) - jnp.sum(w * critic(fake)),
      num_per_component=num_per_component, concat=concat, train_proportions=train_proportions)
  return new, {"generator_w1": w1}


def ot_generator_step(state: WamicState, batch: jax.Array, rng: jax.Array, *,
                      num_per_component: int, epsilon: float, num_iters: int = 200,
                      concat: bool = False, train_proportions: bool = True
                      ) -> tuple[WamicState, dict]:
  """One descent step of decoder and mixture on the minibatch Sinkhorn divergence (no critic).

  The critic-free alternative to :func:`adversarial_step` (not in the paper): the generator
  minimises ``S_eps(x, sum_k pi_k y_k)``, the debiased Sinkhorn divergence
  (:func:`wassml.ot.sinkhorn_divergence`, squared Euclidean cost, log-domain) between the real
  minibatch ``batch: x [B, D]`` (uniform weights) and ``K * num_per_component`` generated points
  weighted ``pi_k / n``. Gradients follow the envelope theorem: to the generated points through the
  plans, to the proportions through the dual potentials. A critic's estimate is biased where the
  critic is not at its optimum; this one is not (up to minibatch and entropic bias: small
  minibatches favour shrunken generators), so the phase does not depend on a critic keeping up.
  With ``concat`` the points are ``[x, E(x)]`` and ``[D(z), z]`` and the encoder is trained too.
  Metrics: ``sinkhorn_divergence``, ``max_proportion``.
  """
  div_fn = lambda real, fake, w: ot.sinkhorn_divergence(real, fake, None, w, epsilon=epsilon,
                                                        num_iters=num_iters, mode="log")
  new, div = _generator_update(state, batch, rng, div_fn, num_per_component=num_per_component,
                               concat=concat, train_proportions=train_proportions)
  return new, {"sinkhorn_divergence": div,
               "max_proportion": jnp.max(mixture.proportions(mixture_params(new)))}


def adversarial_step(state: WamicState, batch: jax.Array, rng: jax.Array, *,
                     num_per_component: int, num_critic: int = 5, gp_weight: float = 10.0,
                     concat: bool = False, train_proportions: bool = True
                     ) -> tuple[WamicState, dict]:
  """``num_critic`` critic steps then one generator step (the joint phase of step 3).

  ``batch``: ``x [num_critic + 1, B, D]``, one real minibatch per sub-step.
  """
  keys = jax.random.split(rng, num_critic + 1)

  def body(st, inp):
    xb, key = inp
    return critic_step(st, xb, key, num_per_component=num_per_component, gp_weight=gp_weight,
                       concat=concat)

  state, cm = jax.lax.scan(body, state, (batch[:num_critic], keys[:num_critic]))
  state, gm = generator_step(state, batch[num_critic], keys[num_critic],
                             num_per_component=num_per_component, concat=concat,
                             train_proportions=train_proportions)
  return state, {"w1": cm["w1"][-1], "critic_loss": cm["critic_loss"][-1], **gm,
                 "max_proportion": jnp.max(mixture.proportions(mixture_params(state)))}


# ----------------------------------------------------------------------------------------------
# Step 4: encoder against the fixed decoder, MAP clustering
# ----------------------------------------------------------------------------------------------


def encoder_step(state: WamicState, batch: jax.Array, rng: jax.Array, *,
                 latent_weight: float = 0.0, num_per_component: int = 16
                 ) -> tuple[WamicState, dict]:
  """One MSE step on the encoder only, the decoder fixed (step 4, eq. 16).

  With ``latent_weight > 0`` it adds ``latent_weight * ||E(D(z)) - z||^2`` on codes drawn from the
  mixture (a cycle term that inverts the decoder where the mixture puts its mass; 0 in the paper).
  """

  def loss_fn(enc):
    mse = reconstruction_loss(batch, decode(state, encode(state, batch, enc)))
    if not latent_weight:
      return mse, (mse, jnp.zeros(()))
    y, z, _ = generate(rng, state, num_per_component)
    y, z = jax.lax.stop_gradient(y), jax.lax.stop_gradient(z)
    cyc = jnp.mean(jnp.sum(jnp.square(encode(state, y, enc) - z), -1))
    return mse + latent_weight * cyc, (mse, cyc)

  (loss, (mse, cyc)), g = jax.value_and_grad(loss_fn, has_aux=True)(state.encoder.params)
  return state.replace(encoder=state.encoder.apply_gradients(grads=g)), {
      "loss": loss, "mse": mse, "latent_cycle": cyc}


def predict_proba(state: WamicState, x: ArrayLike) -> jax.Array:
  """``[B, K]`` ``p(c = k | x)`` by the MAP rule in code space (eq. 4)."""
  return mixture.posterior(mixture_params(state), encode(state, x))


def predict(state: WamicState, x: ArrayLike) -> jax.Array:
  """``[B]`` cluster of each point: ``argmax_k pi_k N(E(x); m_k, Sigma_k)``."""
  return mixture.map_assign(mixture_params(state), encode(state, x))


def partial_steps(*, num_per_component: int, num_critic: int = 5, gp_weight: float = 10.0,
                  concat: bool = False, train_proportions: bool = True,
                  latent_weight: float = 0.0, code_noise: float = 0.0) -> dict:
  """The four step functions with their static hyper-parameters bound."""
  return {
      "autoencoder": functools.partial(autoencoder_step, code_noise=code_noise),
      "critic": functools.partial(critic_step, num_per_component=num_per_component,
                                  gp_weight=gp_weight, concat=concat),
      "generator": functools.partial(generator_step, num_per_component=num_per_component,
                                     concat=concat, train_proportions=train_proportions),
      "adversarial": functools.partial(adversarial_step, num_per_component=num_per_component,
                                       num_critic=num_critic, gp_weight=gp_weight, concat=concat,
                                       train_proportions=train_proportions),
      "encoder": functools.partial(encoder_step, latent_weight=latent_weight,
                                   num_per_component=num_per_component),
  }
