"""End-to-end clustering runs: WAMiC / GeWaC, DiWaC and the baselines in one code path.

:func:`run` is traceable from the key to the predictions (``lax.scan`` loops, EM in
``lax.while_loop``), so several seeds run as one compiled, vmapped call with
:func:`wassml.train.sweep`. It trains one auto-encoder and derives every method from it:

* ``ae_kmeans`` / ``ae_gmm``: k-means / full-covariance GMM on the codes (steps 1-2 of WAMiC);
* ``wamic``: steps 3-4 from that GMM (``concat=True`` gives GeWaC);
* ``diwac``: a soft-assignment head on the same codes, started from the AE + GMM posterior and
  trained on the DiWaC separation loss.

Step 1 can train ``ae_restarts`` auto-encoders at once (vmapped) and keep the one with the lowest
reconstruction loss on the training data (:func:`select_restart`, a label-free choice); its
learning rate can decay (``ae_lr_schedule="cosine"``).

:func:`run_model_selection` trains steps 2-3 for every ``K`` of a list at once (mixtures padded to
``K_max`` and vmapped) and scores each ``K`` by the exact Wasserstein distance between generated
and held-out data (:func:`wassml.ot.wasserstein`); :func:`select_k` turns the per-batch scores
into a choice, by the plain argmin or by the one-standard-error rule.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import optax

from wassml import ot
from wassml.clustering import _checks, diwac, gmm, mixture, wamic
from wassml.nn import AutoEncoder, Critic
from wassml.train import run_steps


AE_LR_SCHEDULES = ("constant", "cosine")
OUTPUT_NOISES = ("none", "residual")
SELECTION_RULES = ("min", "one_se")
ADVERSARIES = ("critic", "sinkhorn")


def _check_adversary(adversary: str) -> None:
  if adversary not in ADVERSARIES:
    raise ValueError(f"Unknown adversary {adversary!r}; valid: {ADVERSARIES}.")


@dataclasses.dataclass(frozen=True)
class ClusteringConfig:
  """Static settings of :func:`run` (hashable, so it can be a static argument).

  The defaults are the paper's architecture (``D-500-500-2000-d``); learning rates and step counts
  are per phase. ``adv_per_component`` generated codes per component make the adversarial batch
  ``K * adv_per_component``. ``ae_lr_schedule`` is ``"constant"`` or ``"cosine"`` (decay from
  ``ae_lr`` to ``ae_lr / 100`` over ``ae_steps``); ``ae_restarts`` auto-encoders are trained from
  different initialisations and the one with the lowest training reconstruction loss is kept.
  ``mixture_lr`` is the adversarial learning rate of the mixture (``None``: ``adv_lr``, the
  decoder's). ``ae_code_noise`` (0: the paper's vanilla auto-encoder) decodes codes perturbed by
  Gaussian noise of that size relative to the batch code scale in step 1
  (:func:`wassml.clustering.wamic.perturb_codes`); with ``ae_code_noise_start`` the noise is
  annealed from that value down to ``ae_code_noise`` (:func:`code_noise_schedule`). ``output_noise="residual"`` gives the
  generative model the observation noise of WAMiC's eq. 2, ``x = D(z) + sigma e``, with ``sigma``
  the auto-encoder's root mean squared residual per feature after step 1 (``"none"``: the paper's
  ``sigma -> 0``); it is used in the adversarial phase and in the model-selection score.
  ``adversary`` chooses step 3's estimate of ``W(data, generated)``: ``"critic"`` (the paper's
  WGAN-GP critic, :func:`wassml.clustering.wamic.adversarial_step`) or ``"sinkhorn"`` (no critic:
  the minibatch Sinkhorn divergence at ``adv_epsilon`` with at most ``adv_sinkhorn_iters``
  iterations, :func:`wassml.clustering.wamic.ot_generator_step`; not in the paper).
  ``gmm_covariance`` and ``gmm_equal_weights`` constrain step 2's EM mixture (and model
  selection's): ``"tied"`` shares one covariance, ``gmm_equal_weights`` fixes the proportions at
  ``1 / K``. With ``train_proportions=False`` step 3 keeps them there. (Why one may want this:
  ``docs/clustering.md``, "The mixture decides the accuracy in one code dimension".)
  """

  num_clusters: int
  code_dim: int = 10
  hidden: tuple[int, ...] = (500, 500, 2000)
  output_activation: str | None = None
  critic_hidden: tuple[int, ...] = (512, 512, 512)
  batch_size: int = 256
  ae_steps: int = 1000
  ae_lr: float = 1e-3
  ae_lr_schedule: str = "constant"
  ae_restarts: int = 1
  ae_code_noise: float = 0.0
  ae_code_noise_start: float | None = None
  ae_code_noise_anneal: float = 0.5
  output_noise: str = "none"
  gmm_covariance: str = "full"
  gmm_iters: int = 100
  gmm_reg_covar: float = 1e-6
  gmm_n_init: int = 1
  gmm_equal_weights: bool = False
  critic_warmup_steps: int = 200
  adv_steps: int = 500
  adv_per_component: int = 32
  adv_lr: float = 1e-5
  mixture_lr: float | None = None
  adversary: str = "critic"
  adv_epsilon: float = 0.01
  adv_sinkhorn_iters: int = 200
  critic_lr: float = 1e-4
  num_critic: int = 5
  gp_weight: float = 10.0
  concat: bool = False
  train_proportions: bool = True
  encoder_steps: int = 500
  encoder_lr: float = 1e-4
  latent_weight: float = 0.0
  run_diwac: bool = True
  diwac_loss: str = "ovr_n"
  diwac_distill_steps: int = 200
  diwac_steps: int = 300
  diwac_lr: float = 1e-4
  diwac_num_critic: int = 3
  diwac_hidden: tuple[int, ...] = (64,)
  diwac_critic_hidden: tuple[int, ...] = (64, 64)

  def validate(self, input_dim: int, n: int) -> None:
    """Raises ``ValueError`` for settings that cannot work on ``[n, input_dim]`` data."""
    _checks.check_code_dim(self.code_dim, input_dim)
    _checks.check_num_clusters(self.num_clusters, n)
    if self.ae_lr_schedule not in AE_LR_SCHEDULES:
      raise ValueError(f"Unknown ae_lr_schedule {self.ae_lr_schedule!r}; "
                       f"valid: {AE_LR_SCHEDULES}.")
    if self.output_noise not in OUTPUT_NOISES:
      raise ValueError(f"Unknown output_noise {self.output_noise!r}; valid: {OUTPUT_NOISES}.")
    if self.ae_code_noise < 0:
      raise ValueError(f"ae_code_noise must be >= 0, got {self.ae_code_noise}.")
    if self.ae_code_noise_start is not None and not (
        self.ae_code_noise_start >= self.ae_code_noise > 0):
      raise ValueError("ae_code_noise_start needs 0 < ae_code_noise <= ae_code_noise_start, got "
                       f"{self.ae_code_noise} and {self.ae_code_noise_start}.")
    if not 0 < self.ae_code_noise_anneal <= 1:
      raise ValueError(f"ae_code_noise_anneal must be in (0, 1], got {self.ae_code_noise_anneal}.")
    if self.ae_restarts < 1:
      raise ValueError(f"ae_restarts must be >= 1, got {self.ae_restarts}.")
    _check_adversary(self.adversary)
    if self.adversary == "sinkhorn" and not self.adv_epsilon > 0:
      raise ValueError(f"adv_epsilon must be > 0, got {self.adv_epsilon}.")
    if self.gmm_covariance not in gmm.COVARIANCE_TYPES:
      raise ValueError(f"Unknown gmm_covariance {self.gmm_covariance!r}; "
                       f"valid: {gmm.COVARIANCE_TYPES}.")


def check_inputs(x, cfg: ClusteringConfig) -> None:
  """Eager checks before a run: ``x`` 2-D and finite, ``K <= n``, ``code_dim <= D``.

  Raises:
    ValueError: NaN/inf data, ``K`` larger than the number of points, a code dimension larger
      than the input dimension, or an unknown covariance type.
  """
  x = _checks.check_data(x, k=cfg.num_clusters)
  cfg.validate(x.shape[1], x.shape[0])


def _adam(lr: float | optax.Schedule, b1: float = 0.9, b2: float = 0.999
          ) -> optax.GradientTransformation:
  return optax.adam(lr, b1=b1, b2=b2)


def _sampler(x: jax.Array, shape: tuple[int, ...]):
  return lambda key, i: x[jax.random.randint(key, shape, 0, x.shape[0])]


def make_models(cfg: ClusteringConfig, input_dim: int) -> tuple[AutoEncoder, Critic]:
  ae = AutoEncoder(input_dim=input_dim, latent_dim=cfg.code_dim, hidden=cfg.hidden,
                   output_activation=cfg.output_activation)
  return ae, Critic(hidden=cfg.critic_hidden)


def ae_optimizer(cfg: ClusteringConfig) -> optax.GradientTransformation:
  """Adam for step 1, constant or cosine-decayed learning rate (``cfg.ae_lr_schedule``)."""
  if cfg.ae_lr_schedule == "cosine":
    return _adam(optax.cosine_decay_schedule(cfg.ae_lr, max(cfg.ae_steps, 1), alpha=0.01))
  if cfg.ae_lr_schedule == "constant":
    return _adam(cfg.ae_lr)
  raise ValueError(f"Unknown ae_lr_schedule {cfg.ae_lr_schedule!r}; valid: {AE_LR_SCHEDULES}.")


def code_noise_schedule(cfg: ClusteringConfig) -> float | optax.Schedule:
  """Step 1's code noise: ``ae_code_noise``, or with ``ae_code_noise_start`` a cosine decay from
  ``ae_code_noise_start`` to ``ae_code_noise`` over the first ``ae_code_noise_anneal`` fraction
  of ``ae_steps`` (then constant)."""
  if cfg.ae_code_noise_start is None:
    return cfg.ae_code_noise
  return optax.cosine_decay_schedule(
      cfg.ae_code_noise_start, max(int(cfg.ae_code_noise_anneal * cfg.ae_steps), 1),
      alpha=cfg.ae_code_noise / cfg.ae_code_noise_start)


def select_restart(states: Any, losses: jax.typing.ArrayLike) -> tuple[Any, jax.Array]:
  """The restart with the lowest loss (label-free): ``(state, index)``.

  Args:
    states: a pytree whose leaves are stacked over restarts, ``[R, ...]``.
    losses: ``[R]`` the loss of each restart (e.g. the training reconstruction loss).

  Returns:
    ``(states[best], best)`` with ``best = argmin(losses)`` (NaN losses are never chosen unless
    all are NaN).
  """
  losses = jnp.asarray(losses)
  best = jnp.argmin(jnp.where(jnp.isnan(losses), jnp.inf, losses))
  return jax.tree.map(lambda a: a[best], states), best


def full_reconstruction_loss(state: wamic.WamicState, x: jax.Array, chunk: int = 4096
                             ) -> jax.Array:
  """Mean per-feature MSE of the auto-encoder on all of ``x [n, D]`` (in chunks of rows)."""
  n = x.shape[0]
  total = jnp.zeros(())
  for start in range(0, n, chunk):
    xb = x[start:start + chunk]
    err = jnp.square(wamic.decode(state, wamic.encode(state, xb)) - xb.reshape(xb.shape[0], -1))
    total = total + jnp.sum(jnp.mean(err, -1))
  return total / n


def train_autoencoder(key: jax.Array, x: jax.Array, cfg: ClusteringConfig, num_clusters: int
                      ) -> tuple[wamic.WamicState, dict]:
  """Creates the combined state for ``num_clusters`` and runs step 1 (auto-encoder).

  With ``cfg.ae_restarts = R > 1``, ``R`` auto-encoders (keys ``fold_in(key, r)``) are trained in
  one vmap and the one with the lowest reconstruction loss on all of ``x`` is kept; the metrics
  then hold the kept restart's ``mse`` curve, ``restart_losses [R]`` and ``restart``.
  """
  ae, critic = make_models(cfg, x.shape[1])

  def one(k):
    state = wamic.create_state(k, ae, critic, x[:2], num_clusters, ae_optimizer(cfg),
                               concat=cfg.concat)
    step = functools.partial(wamic.autoencoder_step, code_noise=code_noise_schedule(cfg))
    return run_steps(step, state, jax.random.fold_in(k, 1), cfg.ae_steps,
                     _sampler(x, (cfg.batch_size,)))

  if cfg.ae_restarts == 1:
    return one(key)
  keys = jax.vmap(lambda r: jax.random.fold_in(key, r))(jnp.arange(cfg.ae_restarts))
  states, m = jax.vmap(one)(keys)
  losses = jax.vmap(lambda st: full_reconstruction_loss(st, x))(states)
  (state, m_best), best = select_restart((states, m), losses)
  return state, {**m_best, "restart_losses": losses, "restart": best}


def with_output_noise(state: wamic.WamicState, x: jax.Array, cfg: ClusteringConfig
                      ) -> wamic.WamicState:
  """Sets the observation noise of the generative model after step 1 (``cfg.output_noise``)."""
  if cfg.output_noise == "residual":
    return wamic.set_output_noise(state, jnp.sqrt(full_reconstruction_loss(state, x)))
  return state


def adversarial_phase(key: jax.Array, state: wamic.WamicState, x: jax.Array,
                      cfg: ClusteringConfig) -> tuple[wamic.WamicState, dict]:
  """Step 3: critic warm-start then the joint critic / generator phase (``adversary="critic"``),
  or ``adv_steps`` descent steps on the minibatch Sinkhorn divergence (``"sinkhorn"``)."""
  _check_adversary(cfg.adversary)
  k = wamic.mixture_params(state).num_components
  b = k * cfg.adv_per_component
  gen_parts = ("decoder",) + (("encoder",) if cfg.concat else ())
  state = wamic.set_optimizer(state, _adam(cfg.adv_lr, 0.5, 0.9), gen_parts)
  mix_lr = cfg.adv_lr if cfg.mixture_lr is None else cfg.mixture_lr
  state = wamic.set_optimizer(state, _adam(mix_lr, 0.5, 0.9), ("mixture",))
  if cfg.adversary == "sinkhorn":
    step = functools.partial(wamic.ot_generator_step, num_per_component=cfg.adv_per_component,
                             epsilon=cfg.adv_epsilon, num_iters=cfg.adv_sinkhorn_iters,
                             concat=cfg.concat, train_proportions=cfg.train_proportions)
    return run_steps(step, state, key, cfg.adv_steps, _sampler(x, (b,)))
  steps = wamic.partial_steps(num_per_component=cfg.adv_per_component, num_critic=cfg.num_critic,
                              gp_weight=cfg.gp_weight, concat=cfg.concat,
                              train_proportions=cfg.train_proportions)
  state = wamic.set_optimizer(state, _adam(cfg.critic_lr, 0.5, 0.9), ("critic",))
  k_warm, k_adv = jax.random.split(key)
  state, warm = run_steps(steps["critic"], state, k_warm, cfg.critic_warmup_steps,
                          _sampler(x, (b,)))
  state, adv = run_steps(steps["adversarial"], state, k_adv, cfg.adv_steps,
                         _sampler(x, (cfg.num_critic + 1, b)))
  return state, {"warmup_w1": warm["w1"], **adv}


def encoder_phase(key: jax.Array, state: wamic.WamicState, x: jax.Array, cfg: ClusteringConfig
                  ) -> tuple[wamic.WamicState, dict]:
  """Step 4: the encoder against the fixed decoder."""
  state = wamic.set_optimizer(state, _adam(cfg.encoder_lr), ("encoder",))
  step = wamic.partial_steps(num_per_component=cfg.adv_per_component,
                             latent_weight=cfg.latent_weight)["encoder"]
  return run_steps(step, state, key, cfg.encoder_steps, _sampler(x, (cfg.batch_size,)))


def fit_wamic_from_codes(key: jax.Array, state: wamic.WamicState, x: jax.Array,
                         cfg: ClusteringConfig, gmm_params: gmm.GMMParams
                         ) -> tuple[wamic.WamicState, dict]:
  """Steps 3-4 from an auto-encoder state and the EM mixture of its codes."""
  state = wamic.init_mixture(state, mixture.from_gmm(gmm_params))
  k3, k4 = jax.random.split(key)
  state, adv = adversarial_phase(k3, state, x, cfg)
  state, enc = encoder_phase(k4, state, x, cfg)
  return state, {**adv, "encoder_mse": enc["mse"]}


def standardize(h: jax.Array) -> jax.Array:
  """Codes centred and scaled to unit mean variance (the DiWaC critics' metric space)."""
  h = h - h.mean(0)
  return h / jnp.sqrt(jnp.mean(h**2) + 1e-12)


def fit_diwac(key: jax.Array, h: jax.Array, target: jax.Array, cfg: ClusteringConfig
              ) -> tuple[diwac.DiwacState, dict]:
  """DiWaC on inputs ``h [n, F]`` (critics in the same space), distilled first from ``target``."""
  k = target.shape[1]
  k0, k1, k2 = jax.random.split(key, 3)
  state = diwac.create_state(k0, k, h.shape[1], h.shape[1], _adam(cfg.diwac_lr), loss=cfg.diwac_loss,
                             assign_hidden=cfg.diwac_hidden,
                             critic_hidden=cfg.diwac_critic_hidden,
                             critic_tx=_adam(cfg.critic_lr, 0.5, 0.9))
  state = state.replace(assign=state.assign.replace(
      tx=_adam(1e-3), opt_state=_adam(1e-3).init(state.assign.params)))

  def distill_batch(key, i):
    idx = jax.random.randint(key, (cfg.batch_size,), 0, h.shape[0])
    return {"h": h[idx], "target": target[idx]}

  state, dm = run_steps(diwac.distill_step, state, k1, cfg.diwac_distill_steps, distill_batch)
  state = state.replace(assign=state.assign.replace(
      tx=_adam(cfg.diwac_lr), opt_state=_adam(cfg.diwac_lr).init(state.assign.params)))

  def batch(key, i):
    idx = jax.random.randint(key, (cfg.batch_size,), 0, h.shape[0])
    return {"h": h[idx], "x": h[idx]}

  step = functools.partial(diwac.diwac_step, loss=cfg.diwac_loss, num_critic=cfg.diwac_num_critic,
                           gp_weight=cfg.gp_weight)
  state, m = run_steps(step, state, k2, cfg.diwac_steps, batch)
  return state, {**m, "distill_loss": dm["distill_loss"]}


RUN_KEYS = ("ae", "em", "kmeans", "wamic", "diwac")


def run_keys(key: jax.Array) -> dict[str, jax.Array]:
  """The per-step keys of :func:`run`: ``split(key, 5)``, named as in :data:`RUN_KEYS`."""
  return dict(zip(RUN_KEYS, jax.random.split(key, len(RUN_KEYS))))


def fit_code_gmm(key: jax.Array, codes: jax.Array, k: int, cfg: ClusteringConfig
                 ) -> gmm.GMMParams:
  """Step 2: EM on ``codes [n, d]`` with ``k`` components and ``cfg``'s mixture settings
  (``gmm_covariance``, ``gmm_iters``, ``gmm_reg_covar``, ``gmm_n_init``, ``gmm_equal_weights``)."""
  params, _ = gmm.fit_gmm(key, codes, k, covariance_type=cfg.gmm_covariance,
                          num_iters=cfg.gmm_iters, reg_covar=cfg.gmm_reg_covar,
                          n_init=cfg.gmm_n_init, equal_weights=cfg.gmm_equal_weights)
  return params


def fit_steps_1_2(k_ae: jax.Array, k_em: jax.Array, x: jax.Array, cfg: ClusteringConfig
                  ) -> tuple[wamic.WamicState, jax.Array, gmm.GMMParams, dict]:
  """Steps 1-2: the auto-encoder (with its observation noise), its codes ``[n, d]``, their EM
  mixture with ``cfg.num_clusters`` components, and step 1's metrics."""
  state, ae_m = train_autoencoder(k_ae, x, cfg, cfg.num_clusters)
  state = with_output_noise(state, x, cfg)
  codes = wamic.encode(state, x)
  return state, codes, fit_code_gmm(k_em, codes, cfg.num_clusters, cfg), ae_m


def run(key: jax.Array, x: jax.Array, cfg: ClusteringConfig) -> dict:
  """One seed of every method on ``x [n, D]`` (traceable; vmap it over keys with ``sweep``).

  Returns:
    A dict of ``[n]`` cluster predictions (``ae_kmeans``, ``ae_gmm``, ``wamic``, ``diwac``), the
    codes before / after WAMiC, with ``ae_restarts > 1`` the restarts' training reconstruction
    losses ``ae_restart_losses [R]`` and the kept ``ae_restart``, the final :class:`~wassml.clustering.wamic.WamicState` (``state``),
    the EM mixture, the auto-encoder state after step 1 (``ae_state``, for
    :func:`run_model_selection`), and per-step training curves (``curves``).
  """
  x = jnp.asarray(x, jnp.float32).reshape(x.shape[0], -1)
  keys = run_keys(key)
  state, codes, gmm_params, ae_m = fit_steps_1_2(keys["ae"], keys["em"], x, cfg)
  ae_state = state
  km = gmm.kmeans(keys["kmeans"], codes, cfg.num_clusters)
  out = {"ae_kmeans": km.labels, "ae_gmm": gmm.predict(gmm_params, codes), "ae_codes": codes,
         "gmm": gmm_params}
  if cfg.ae_restarts > 1:
    out["ae_restart_losses"] = ae_m["restart_losses"]
    out["ae_restart"] = ae_m["restart"]
  curves = {"ae_mse": ae_m["mse"]}
  if cfg.run_diwac:
    h = standardize(codes)  # DiWaC's input
    dstate, dm = fit_diwac(keys["diwac"], h, gmm.predict_proba(gmm_params, codes), cfg)
    out["diwac"] = diwac.predict(dstate, h)
    out["diwac_proportions"] = diwac.proportions(dstate, h)
    curves.update({"diwac_separation": dm["separation"], "diwac_mean_w": dm["mean_w"]})
  state, wm = fit_wamic_from_codes(keys["wamic"], state, x, cfg, gmm_params)
  out["wamic"] = wamic.predict(state, x)
  out["wamic_codes"] = wamic.encode(state, x)
  out["state"] = state
  out["ae_state"] = ae_state
  curves.update(wm)
  out["curves"] = curves
  return out


# ----------------------------------------------------------------------------------------------
# Wasserstein model selection
# ----------------------------------------------------------------------------------------------


# Exact OT on the host (scipy's assignment solver): on CPU it is much faster than the auction.
_HOST_EMD = functools.partial(ot.emd, method="host")


def wasserstein_score(key: jax.Array, state: wamic.WamicState, x_heldout: jax.Array, *,
                      num_samples: int, num_batches: int, p: float = 2.0,
                      stratified: bool = False) -> jax.Array:
  """``[num_batches]`` exact ``W_p`` between ``num_samples`` generated points
  (:func:`wassml.clustering.wamic.sample_data`: mixture draws, decoded, plus the state's
  observation noise) and ``num_samples`` held-out points, one value per batch.

  With ``num_samples >= len(x_heldout)`` every batch compares the whole held-out set with
  ``len(x_heldout)`` fresh generated points (no subsampling noise on the held-out side).
  ``stratified=True`` draws the components with :func:`~wassml.clustering.mixture.sample`'s
  systematic sampling (cluster sizes ``n pi_k`` rounded, no multinomial noise).
  """
  n_held = x_heldout.shape[0]
  full = num_samples >= n_held
  n = n_held if full else num_samples

  def one(key):
    k_gen, k_idx = jax.random.split(key)
    y, _ = wamic.sample_data(k_gen, state, n, stratified=stratified)
    held = x_heldout if full else x_heldout[jax.random.choice(k_idx, n_held, (n,), replace=False)]
    w = ot.wasserstein(y, held, p=p, solver=_HOST_EMD)
    # A generator with non-finite parameters must not score (the exact solver returns 0 on a
    # NaN cost): NaN, for the caller to report.
    return jnp.where(jnp.all(jnp.isfinite(y)), w, jnp.nan)

  return jax.vmap(one)(jax.random.split(key, num_batches))


def critic_score(key: jax.Array, state: wamic.WamicState, x_heldout: jax.Array,
                 critic: Critic, *, num_samples: int, num_batches: int, steps: int, lr: float,
                 gp_weight: float = 10.0, stratified: bool = False) -> jax.Array:
  """``[num_batches]`` critic estimates of ``W_1`` between held-out and generated data (the
  paper's sec. 4.2 score): a new critic is trained for ``steps`` WGAN-GP steps (Adam ``lr``,
  betas 0.5 / 0.9) on batches of ``num_samples`` held-out and generated points
  (:func:`wassml.clustering.wamic.sample_data`), then ``E f(held-out) - E f(generated)`` is
  measured on ``num_batches`` fresh batches."""
  n_held = x_heldout.shape[0]
  n = min(num_samples, n_held)
  k_init, k_train, k_eval = jax.random.split(key, 3)
  params = critic.init(k_init, x_heldout[:1])["params"]
  tx = _adam(lr, 0.5, 0.9)

  def batches(key):
    k_gen, k_idx = jax.random.split(key)
    y, _ = wamic.sample_data(k_gen, state, n, stratified=stratified)
    held = x_heldout[jax.random.choice(k_idx, n_held, (n,), replace=False)]
    return held, y

  def body(carry, key):
    params, opt = carry
    k_b, k_gp = jax.random.split(key)
    held, y = batches(k_b)
    f = lambda p: lambda v: critic.apply({"params": p}, v)
    g = jax.grad(lambda p: ot.critic_loss(k_gp, f(p), held, y, gp_weight=gp_weight)[0])(params)
    upd, opt = tx.update(g, opt, params)
    return (optax.apply_updates(params, upd), opt), None

  (params, _), _ = jax.lax.scan(body, (params, tx.init(params)), jax.random.split(k_train, steps))

  def estimate(key):
    held, y = batches(key)
    return jnp.mean(critic.apply({"params": params}, held)) - jnp.mean(
        critic.apply({"params": params}, y))

  return jax.vmap(estimate)(jax.random.split(k_eval, num_batches))


def select_k(w: jax.typing.ArrayLike, ks: Sequence[int], rule: str = "min") -> jax.Array:
  """Chooses ``K`` from held-out scores (lower is better); traceable.

  Args:
    w: ``[len(ks), B]`` scores, ``B`` batch estimates per ``K`` (e.g. ``W_2`` on ``B`` batches).
    ks: the candidate numbers of clusters (any order).
    rule: ``"min"``: the ``K`` of the lowest mean score. ``"one_se"``: the one-standard-error
      rule (Breiman et al. 1984; Hastie et al., *The Elements of Statistical Learning*, §7.10):
      the smallest ``K`` whose mean score is at most ``min_K mean + se``, with ``se`` the
      standard error of the mean (``std(ddof=1) / sqrt(B)``) of the ``K`` of the lowest mean.

  Returns:
    The index into ``ks`` of the chosen ``K`` (int scalar).

  Raises:
    ValueError: an unknown rule, ``w`` not ``[len(ks), B]``, or ``B < 2`` for ``"one_se"``.
  """
  if rule not in SELECTION_RULES:
    raise ValueError(f"Unknown selection rule {rule!r}; valid: {SELECTION_RULES}.")
  w = jnp.asarray(w)
  if w.ndim != 2 or w.shape[0] != len(ks):
    raise ValueError(f"w must be [len(ks)={len(ks)}, num_batches], got shape {w.shape}.")
  mean = w.mean(-1)
  best = jnp.argmin(mean)
  if rule == "min":
    return best
  if w.shape[1] < 2:
    raise ValueError(f"rule='one_se' needs at least 2 batch scores per K, got {w.shape[1]}.")
  se = standard_error(w)
  ks_arr = jnp.asarray(ks)
  within = mean <= mean[best] + se[best]
  return jnp.argmin(jnp.where(within, ks_arr, jnp.iinfo(ks_arr.dtype).max))


def standard_error(w: jax.typing.ArrayLike) -> jax.Array:
  """``[..., B]`` batch scores -> ``[...]`` standard error of their mean, ``std(ddof=1)/sqrt(B)``."""
  w = jnp.asarray(w)
  return jnp.std(w, -1, ddof=1) / jnp.sqrt(w.shape[-1])


def run_model_selection(key: jax.Array, x: jax.Array, x_heldout: jax.Array,
                        cfg: ClusteringConfig, ks: Sequence[int], *, num_samples: int = 500,
                        num_batches: int = 4, rule: str = "min", p: float = 2.0,
                        stratified: bool = False, ae_state: wamic.WamicState | None = None,
                        score: str = "exact", critic_steps: int = 1000, critic_lr: float = 1e-3,
                        also_exact: bool = False) -> dict:
  """Steps 1-3 for every ``K`` in ``ks`` (one auto-encoder, mixtures padded to ``max(ks)`` and
  trained in one vmap over ``K``); each ``K`` is scored on held-out data (traceable) by
  :func:`wasserstein_score` (``W_p``, optionally stratified draws), every ``K`` on the same
  held-out batches and generator noise (common random numbers: the differences between ``K`` do
  not carry the batch-to-batch noise).

  ``ae_state``: an auto-encoder already trained on ``x`` (step 1 done once for all, as in the
  paper's sec. 3.4; e.g. ``run(...)["ae_state"]``), else one is trained here.

  ``score="exact"``: :func:`wasserstein_score` (exact ``W_p``); ``score="critic"``:
  :func:`critic_score` (a new critic per ``K``, ``critic_steps`` at ``critic_lr``, the paper's
  score). ``also_exact`` adds the exact scores and their choices (``w_exact``,
  ``selected_exact_min``, ``selected_exact_one_se``) next to the critic's.

  Returns:
    ``{"w": [len(ks), num_batches] W_p estimates, "mean_w": [len(ks)], "se_w": [len(ks)]
    (standard error of the mean, NaN for one batch), "selected": index into ks by ``rule``,
    "selected_min": by the plain argmin, "selected_one_se": by the one-standard-error rule (only
    with ``num_batches >= 2``)}`` (see :func:`select_k`).
  """
  if rule not in SELECTION_RULES:
    raise ValueError(f"Unknown selection rule {rule!r}; valid: {SELECTION_RULES}.")
  if rule == "one_se" and num_batches < 2:
    raise ValueError(f"rule='one_se' needs num_batches >= 2, got {num_batches}.")
  x = jnp.asarray(x, jnp.float32).reshape(x.shape[0], -1)
  x_heldout = jnp.asarray(x_heldout, jnp.float32).reshape(x_heldout.shape[0], -1)
  k_max = max(ks)
  k_ae, k_em, k_adv, k_score = jax.random.split(key, 4)
  if ae_state is None:
    state = with_output_noise(train_autoencoder(k_ae, x, cfg, k_max)[0], x, cfg)
  else:  # step 1 done once for all (its mixture is replaced below, for every K)
    state = ae_state
  codes = wamic.encode(state, x)
  mixes = []
  for i, k in enumerate(ks):
    g = fit_code_gmm(jax.random.fold_in(k_em, i), codes, k, cfg)
    mixes.append(mixture.pad(mixture.from_gmm(g), k_max))
  mixes = jax.tree.map(lambda *a: jnp.stack(a), *mixes)

  def train_one(mix, key):
    st = wamic.init_mixture(state, mix)
    st, _ = adversarial_phase(key, st, x, cfg)
    return st

  keys = jax.random.split(k_adv, len(ks))
  states = jax.vmap(train_one)(mixes, keys)
  exact = functools.partial(wasserstein_score, num_samples=num_samples, num_batches=num_batches,
                            p=p, stratified=stratified)
  if score == "critic":
    crit = functools.partial(critic_score, critic=make_models(cfg, x.shape[1])[1],
                             num_samples=num_samples, num_batches=num_batches, steps=critic_steps,
                             lr=critic_lr, gp_weight=cfg.gp_weight, stratified=stratified)
  elif score != "exact":
    raise ValueError(f"Unknown model-selection score {score!r}; valid: ('exact', 'critic').")
  # Common random numbers: every K is scored on the same held-out batches and the same noise.
  w = jax.vmap(lambda st: (crit if score == "critic" else exact)(k_score, st, x_heldout))(states)
  out = {"w": w, "mean_w": w.mean(-1), "selected": select_k(w, ks, rule),
         "selected_min": select_k(w, ks, "min"),
         "se_w": standard_error(w) if num_batches >= 2 else jnp.full((len(ks),), jnp.nan)}
  if num_batches >= 2:
    out["selected_one_se"] = select_k(w, ks, "one_se")
  if score == "critic" and also_exact:
    we = jax.vmap(lambda st: exact(jax.random.fold_in(k_score, 1), st, x_heldout))(states)
    out.update({"w_exact": we, "selected_exact_min": select_k(we, ks, "min")})
    if num_batches >= 2:
      out["selected_exact_one_se"] = select_k(we, ks, "one_se")
  return out
