"""End-to-end clustering runs: WAMiC / GeWaC, DiWaC and the baselines in one code path.

:func:`run` trains one auto-encoder and derives every method from it:

* ``ae_kmeans`` / ``ae_gmm``: k-means / full-covariance GMM on the codes (steps 1-2 of WAMiC);
* ``wamic``: steps 3-4 from that GMM (``concat=True`` gives GeWaC);
* ``diwac``: a soft-assignment head on the same codes, started from the AE + GMM posterior and
  trained on the DiWaC separation loss.

Every training phase (auto-encoder, DiWaC distillation and separation, critic warm-start,
adversarial phase, encoder) is one :func:`wassml.train.train_loop` call; the computations between
them (EM, k-means, predictions) are compiled and vmapped over the runs. Several seeds run together:
give ``[S]`` keys instead of one and every state and output gets a leading seed axis (the phases
train them as ``train_loop`` seeds, executed as :class:`LoopOptions` ``execution`` says). Step
``i`` of a phase draws its minibatch rows with ``split(fold_in(phase_key, i))[0]`` and steps with
``split(fold_in(phase_key, i))[1]``, whatever the execution. With ``LoopOptions.workdir`` each phase
checkpoints under ``<workdir>/checkpoints/<phase>`` and a killed run started again resumes: the
finished phases are restored, the interrupted one goes on from its last checkpoint.

Step 1 can train ``ae_restarts`` auto-encoders at once (as more ``train_loop`` seeds) and keep the
one with the lowest reconstruction loss on the training data (:func:`select_restart`, a label-free
choice); its learning rate can decay (``ae_lr_schedule="cosine"``).

:func:`run_model_selection` trains step 3 for every ``K`` of a list at once (mixtures padded to
``K_max``, one ``train_loop`` seed per ``K``) and scores each ``K`` by the exact Wasserstein
distance between generated and held-out data (:func:`wassml.ot.wasserstein`); :func:`select_k`
turns the per-batch scores into a choice, by the plain argmin or by the one-standard-error rule.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from wassml import ot
from wassml import train as wtrain
from wassml.clustering import _checks, diwac, gmm, mixture, wamic
from wassml.nn import AutoEncoder, Critic


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


# ----------------------------------------------------------------------------------------------
# Training phases through wassml.train.train_loop
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LoopOptions:
  """How the training phases run (the :func:`wassml.train.train_loop` settings).

  Attributes:
    execution: ``"auto"``, ``"host"``, ``"vmap"`` or ``"scan"`` (the runs of a phase are
      ``train_loop`` seeds).
    workdir: with a folder, phase ``p`` checkpoints under ``<workdir>/checkpoints/<prefix><p>``
      and writes its training means to ``<workdir>/metrics/<prefix><p>.jsonl``; a run started
      again in the same folder resumes. None: no checkpoints, curves kept in memory.
    checkpoint_every: checkpoint period of a phase in steps (0: at the end of the phase only).
    log_every: the training curves hold the mean of every ``log_every`` steps.
    scan_steps: with ``"scan"``, at most this many steps per compiled call (each call stacks its
      steps' minibatches on the host).
    prefix: prepended to the phase names (see :meth:`under`).
  """

  execution: str = "auto"
  workdir: str | None = None
  checkpoint_every: int = 0
  log_every: int = 10
  scan_steps: int | None = None
  prefix: str = ""

  def under(self, name: str) -> "LoopOptions":
    """The same options with the phases named ``<prefix><name>/<phase>``."""
    return dataclasses.replace(self, prefix=f"{self.prefix}{name}/")


def _curves(records: list[dict], names: Sequence[str], num_runs: int) -> dict[str, np.ndarray]:
  """The writer's training means as ``{metric: [num_runs, T]}`` (in step order)."""
  out = {}
  for name in names:
    rows = []
    for s in range(num_runs):
      recs = sorted((r for r in records if r.get("seed") == s and f"train/{name}" in r),
                    key=lambda r: r["step"])
      rows.append([r[f"train/{name}"] for r in recs])
    out[name] = np.asarray(rows, np.float32).reshape(num_runs, -1)
  return out


def train_phase(step: Callable, state: Any, keys: jax.Array, num_steps: int,
                batches: Callable, loop: LoopOptions, name: str) -> tuple[Any, dict]:
  """``num_steps`` steps of ``step`` for the runs stacked in ``state``, with
  :func:`wassml.train.train_loop` (the runs are its seeds).

  Args:
    step: ``step(state, batch, rng) -> (state, metrics)`` of one run.
    state: the runs' states stacked on a leading axis.
    keys: ``[S]`` phase keys; step ``i`` of run ``s`` steps with ``split(fold_in(keys[s], i))[1]``.
    num_steps: the phase's steps.
    batches: ``batch_fn(i, s)`` (e.g. :class:`wassml.train.RandomRows` on the same keys).
    loop: execution, checkpoints and logging.
    name: the phase (checkpoint folder ``checkpoints/<loop.prefix><name>``).

  Returns:
    ``(state, curves)``: the trained stacked state and ``{metric: [S, T]}``, the mean of every
    ``loop.log_every`` steps (the last period may be shorter).
  """
  num_runs = int(jnp.shape(keys)[0])
  phase = f"{loop.prefix}{name}"

  def step_fn(st, batch, rng):
    return step(st, batch, jax.random.split(rng)[1])

  one = jax.tree.map(lambda a: a[0], state)
  names = list(jax.eval_shape(step_fn, one, batches(0, 0), keys[0])[1])
  state, info = wtrain.run_phase(
      state, jax.jit(step_fn), batches, workdir=loop.workdir or None, name=phase, rng=keys,
      num_steps=num_steps, num_seeds=num_runs, execution=loop.execution,
      scan_steps=loop.scan_steps, checkpoint_every=loop.checkpoint_every,
      log_every=loop.log_every)
  return state, _curves(info["records"], names, num_runs)


def _is_single(key: jax.Array) -> bool:
  """One key (one run) or ``[S]`` keys (typed keys; raw ``uint32`` keys have a last axis 2)."""
  key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
  if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
    return key.ndim == 0
  return key.ndim == 1


def _add_run_axis(tree: Any) -> Any:
  return jax.tree.map(lambda a: jnp.asarray(a)[None], tree)


def _first_run(tree: Any) -> Any:
  return jax.tree.map(lambda a: a[0], tree)


def _single_or_runs(fn: Callable, key: jax.Array, *runs: Any, **kwargs) -> Any:
  """``fn(keys, *runs, **kwargs)`` on ``[S]`` keys; with one key, on a run axis of one added to
  ``key`` and ``runs`` (per-run arguments) and removed from the result."""
  if not _is_single(key):
    return fn(key, *runs, **kwargs)
  out = fn(_add_run_axis(key), *[_add_run_axis(r) for r in runs], **kwargs)
  return _first_run(out)


def _split(keys: jax.Array, num: int) -> list[jax.Array]:
  """``split(key, num)`` of every run's key: ``num`` arrays of ``[S]`` keys."""
  parts = jax.vmap(lambda k: jax.random.split(k, num))(keys)
  return [parts[:, j] for j in range(num)]


def _loop(loop: LoopOptions | None) -> LoopOptions:
  return LoopOptions() if loop is None else loop


# ----------------------------------------------------------------------------------------------
# The methods' building blocks
# ----------------------------------------------------------------------------------------------


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


@functools.partial(jax.jit, static_argnames=("cfg", "num_clusters"))
def _create_states(keys: jax.Array, x: jax.Array, cfg: ClusteringConfig, num_clusters: int
                   ) -> wamic.WamicState:
  ae, critic = make_models(cfg, x.shape[1])
  tx = ae_optimizer(cfg)
  return jax.vmap(lambda k: wamic.create_state(k, ae, critic, x[:2], num_clusters, tx,
                                               concat=cfg.concat))(keys)


@jax.jit
def _select_restarts(states: wamic.WamicState, x: jax.Array) -> tuple[Any, jax.Array, jax.Array]:
  """``states [S, R]``: per seed the restart of lowest training reconstruction loss."""
  losses = jax.vmap(jax.vmap(lambda st: full_reconstruction_loss(st, x)))(states)
  state, best = jax.vmap(select_restart)(states, losses)
  return state, best, losses


def _train_autoencoder(keys, x, cfg, num_clusters, loop):
  num_seeds, r = int(keys.shape[0]), cfg.ae_restarts
  run_keys = keys
  if r > 1:  # restart j of seed s: key fold_in(keys[s], j); the runs are [S * R], seed-major
    run_keys = jax.vmap(lambda k: jax.vmap(lambda j: jax.random.fold_in(k, j))(
        jnp.arange(r)))(keys).reshape(num_seeds * r)
  x = jnp.asarray(x)
  states = _create_states(run_keys, x, cfg, num_clusters)
  phase_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(run_keys)
  step = functools.partial(wamic.autoencoder_step, code_noise=code_noise_schedule(cfg))
  states, curves = train_phase(step, states, phase_keys, cfg.ae_steps,
                               wtrain.RandomRows(x, cfg.batch_size, phase_keys), loop,
                               "autoencoder")
  if r == 1:
    return states, curves
  by_seed = jax.tree.map(lambda a: a.reshape((num_seeds, r) + a.shape[1:]), states)
  state, best, losses = _select_restarts(by_seed, x)
  best_np = np.asarray(best)
  mse = curves["mse"].reshape(num_seeds, r, -1)[np.arange(num_seeds), best_np]
  return state, {"mse": mse, "restart_losses": losses, "restart": best}


def train_autoencoder(key: jax.Array, x: jax.Array, cfg: ClusteringConfig, num_clusters: int, *,
                      loop: LoopOptions | None = None) -> tuple[wamic.WamicState, dict]:
  """Creates the combined state for ``num_clusters`` and runs step 1 (auto-encoder).

  With ``cfg.ae_restarts = R > 1``, ``R`` auto-encoders (keys ``fold_in(key, r)``) are trained
  together and the one with the lowest reconstruction loss on all of ``x`` is kept; the metrics
  then hold the kept restart's ``mse`` curve, ``restart_losses [R]`` and ``restart``.

  ``key``: one key, or ``[S]`` keys for ``S`` seeds (state and metrics then stacked over seeds).
  The ``mse`` curve holds the mean of every ``loop.log_every`` steps.
  """
  return _single_or_runs(lambda k: _train_autoencoder(k, x, cfg, num_clusters, _loop(loop)),
                         key)


@functools.partial(jax.jit, static_argnames="cfg")
def _with_output_noise(states: wamic.WamicState, x: jax.Array, cfg: ClusteringConfig
                       ) -> wamic.WamicState:
  return jax.vmap(lambda st: with_output_noise(st, x, cfg))(states)


def with_output_noise(state: wamic.WamicState, x: jax.Array, cfg: ClusteringConfig
                      ) -> wamic.WamicState:
  """Sets the observation noise of the generative model after step 1 (``cfg.output_noise``)."""
  if cfg.output_noise == "residual":
    return wamic.set_output_noise(state, jnp.sqrt(full_reconstruction_loss(state, x)))
  return state


def _per_run(fn: Callable, state: Any) -> Any:
  """``fn`` applied to every run of a stacked state (e.g. a fresh optimiser per run)."""
  return jax.vmap(fn)(state)


def _adversarial_phase(keys, state, x, cfg, loop):
  _check_adversary(cfg.adversary)
  x = jnp.asarray(x)
  k = state.mixture.params["mixture"].num_components
  b = k * cfg.adv_per_component
  gen_parts = ("decoder",) + (("encoder",) if cfg.concat else ())
  mix_lr = cfg.adv_lr if cfg.mixture_lr is None else cfg.mixture_lr

  def optimizers(st):
    st = wamic.set_optimizer(st, _adam(cfg.adv_lr, 0.5, 0.9), gen_parts)
    st = wamic.set_optimizer(st, _adam(mix_lr, 0.5, 0.9), ("mixture",))
    if cfg.adversary == "critic":
      st = wamic.set_optimizer(st, _adam(cfg.critic_lr, 0.5, 0.9), ("critic",))
    return st

  state = _per_run(optimizers, state)
  if cfg.adversary == "sinkhorn":
    step = functools.partial(wamic.ot_generator_step, num_per_component=cfg.adv_per_component,
                             epsilon=cfg.adv_epsilon, num_iters=cfg.adv_sinkhorn_iters,
                             concat=cfg.concat, train_proportions=cfg.train_proportions)
    return train_phase(step, state, keys, cfg.adv_steps, wtrain.RandomRows(x, b, keys), loop,
                       "sinkhorn")
  steps = wamic.partial_steps(num_per_component=cfg.adv_per_component, num_critic=cfg.num_critic,
                              gp_weight=cfg.gp_weight, concat=cfg.concat,
                              train_proportions=cfg.train_proportions)
  k_warm, k_adv = _split(keys, 2)
  state, warm = train_phase(steps["critic"], state, k_warm, cfg.critic_warmup_steps,
                            wtrain.RandomRows(x, b, k_warm), loop, "critic_warmup")
  state, adv = train_phase(steps["adversarial"], state, k_adv, cfg.adv_steps,
                           wtrain.RandomRows(x, (cfg.num_critic + 1, b), k_adv), loop,
                           "adversarial")
  return state, {"warmup_w1": warm["w1"], **adv}


def adversarial_phase(key: jax.Array, state: wamic.WamicState, x: jax.Array,
                      cfg: ClusteringConfig, *, loop: LoopOptions | None = None
                      ) -> tuple[wamic.WamicState, dict]:
  """Step 3: critic warm-start then the joint critic / generator phase (``adversary="critic"``),
  or ``adv_steps`` descent steps on the minibatch Sinkhorn divergence (``"sinkhorn"``).

  ``key``: one key, or ``[S]`` keys with ``state`` stacked over the ``S`` runs."""
  return _single_or_runs(lambda k, st: _adversarial_phase(k, st, x, cfg, _loop(loop)), key, state)


def _encoder_phase(keys, state, x, cfg, loop):
  x = jnp.asarray(x)
  state = _per_run(lambda st: wamic.set_optimizer(st, _adam(cfg.encoder_lr), ("encoder",)), state)
  step = wamic.partial_steps(num_per_component=cfg.adv_per_component,
                             latent_weight=cfg.latent_weight)["encoder"]
  return train_phase(step, state, keys, cfg.encoder_steps,
                     wtrain.RandomRows(x, cfg.batch_size, keys), loop, "encoder")


def encoder_phase(key: jax.Array, state: wamic.WamicState, x: jax.Array, cfg: ClusteringConfig,
                  *, loop: LoopOptions | None = None) -> tuple[wamic.WamicState, dict]:
  """Step 4: the encoder against the fixed decoder (``key``: one key, or ``[S]`` keys with
  ``state`` stacked over the runs)."""
  return _single_or_runs(lambda k, st: _encoder_phase(k, st, x, cfg, _loop(loop)), key, state)


def _fit_wamic_from_codes(keys, state, x, cfg, gmm_params, loop):
  state = jax.vmap(lambda st, g: wamic.init_mixture(st, mixture.from_gmm(g)))(state, gmm_params)
  k3, k4 = _split(keys, 2)
  state, adv = _adversarial_phase(k3, state, x, cfg, loop)
  state, enc = _encoder_phase(k4, state, x, cfg, loop)
  return state, {**adv, "encoder_mse": enc["mse"]}


def fit_wamic_from_codes(key: jax.Array, state: wamic.WamicState, x: jax.Array,
                         cfg: ClusteringConfig, gmm_params: gmm.GMMParams, *,
                         loop: LoopOptions | None = None) -> tuple[wamic.WamicState, dict]:
  """Steps 3-4 from an auto-encoder state and the EM mixture of its codes (``key``: one key, or
  ``[S]`` keys with ``state`` and ``gmm_params`` stacked over the runs)."""
  return _single_or_runs(
      lambda k, st, g: _fit_wamic_from_codes(k, st, x, cfg, g, _loop(loop)), key, state,
      gmm_params)


def standardize(h: jax.Array) -> jax.Array:
  """Codes centred and scaled to unit mean variance (the DiWaC critics' metric space)."""
  h = h - h.mean(0)
  return h / jnp.sqrt(jnp.mean(h**2) + 1e-12)


@functools.partial(jax.jit, static_argnames=("cfg", "k", "dim"))
def _create_diwac_states(keys: jax.Array, cfg: ClusteringConfig, k: int, dim: int
                         ) -> diwac.DiwacState:
  def one(key):
    state = diwac.create_state(key, k, dim, dim, _adam(cfg.diwac_lr), loss=cfg.diwac_loss,
                               assign_hidden=cfg.diwac_hidden,
                               critic_hidden=cfg.diwac_critic_hidden,
                               critic_tx=_adam(cfg.critic_lr, 0.5, 0.9))
    return state.replace(assign=state.assign.replace(
        tx=_adam(1e-3), opt_state=_adam(1e-3).init(state.assign.params)))
  return jax.vmap(one)(keys)


def _fit_diwac(keys, h, target, cfg, loop):
  k, dim = int(target.shape[-1]), int(h.shape[-1])
  k0, k1, k2 = _split(keys, 3)
  state = _create_diwac_states(k0, cfg, k, dim)
  state, dm = train_phase(diwac.distill_step, state, k1, cfg.diwac_distill_steps,
                          wtrain.RandomRows({"h": h, "target": target}, cfg.batch_size, k1,
                                            per_seed=("h", "target")), loop, "diwac_distill")
  tx = _adam(cfg.diwac_lr)
  state = _per_run(lambda st: st.replace(assign=st.assign.replace(
      tx=tx, opt_state=tx.init(st.assign.params))), state)
  step = functools.partial(diwac.diwac_step, loss=cfg.diwac_loss, num_critic=cfg.diwac_num_critic,
                           gp_weight=cfg.gp_weight)
  state, m = train_phase(step, state, k2, cfg.diwac_steps,
                         wtrain.RandomRows({"h": h, "x": h}, cfg.batch_size, k2,
                                           per_seed=("h", "x")),
                         loop, "diwac")
  return state, {**m, "distill_loss": dm["distill_loss"]}


def fit_diwac(key: jax.Array, h: jax.Array, target: jax.Array, cfg: ClusteringConfig, *,
              loop: LoopOptions | None = None) -> tuple[diwac.DiwacState, dict]:
  """DiWaC on inputs ``h [n, F]`` (critics in the same space), distilled first from ``target``
  ``[n, K]`` (``key``: one key, or ``[S]`` keys with ``h``, ``target`` of ``[S, n, ...]``)."""
  return _single_or_runs(lambda kk, hh, t: _fit_diwac(kk, hh, t, cfg, _loop(loop)), key, h, target)


RUN_KEYS = ("ae", "em", "kmeans", "wamic", "diwac")


def run_keys(key: jax.Array) -> dict[str, jax.Array]:
  """The per-step keys of :func:`run`: ``split(key, 5)``, named as in :data:`RUN_KEYS` (with
  ``[S]`` keys: ``[S]`` keys of each)."""
  if _is_single(key):
    return dict(zip(RUN_KEYS, jax.random.split(key, len(RUN_KEYS))))
  return dict(zip(RUN_KEYS, _split(key, len(RUN_KEYS))))


def fit_code_gmm(key: jax.Array, codes: jax.Array, k: int, cfg: ClusteringConfig
                 ) -> gmm.GMMParams:
  """Step 2: EM on ``codes [n, d]`` with ``k`` components and ``cfg``'s mixture settings
  (``gmm_covariance``, ``gmm_iters``, ``gmm_reg_covar``, ``gmm_n_init``, ``gmm_equal_weights``)."""
  params, _ = gmm.fit_gmm(key, codes, k, covariance_type=cfg.gmm_covariance,
                          num_iters=cfg.gmm_iters, reg_covar=cfg.gmm_reg_covar,
                          n_init=cfg.gmm_n_init, equal_weights=cfg.gmm_equal_weights)
  return params


@functools.partial(jax.jit, static_argnames=("cfg", "k"))
def _codes_and_gmm(states: wamic.WamicState, keys: jax.Array, x: jax.Array, cfg: ClusteringConfig,
                   k: int) -> tuple[wamic.WamicState, jax.Array, gmm.GMMParams]:
  """Per run: the observation noise, the codes and their EM mixture (step 2)."""
  def one(st, key):
    st = with_output_noise(st, x, cfg)
    codes = wamic.encode(st, x)
    return st, codes, fit_code_gmm(key, codes, k, cfg)
  return jax.vmap(one)(states, keys)


def _fit_steps_1_2(k_ae, k_em, x, cfg, loop):
  x = jnp.asarray(x)
  state, ae_m = _train_autoencoder(k_ae, x, cfg, cfg.num_clusters, loop)
  state, codes, params = _codes_and_gmm(state, k_em, x, cfg, cfg.num_clusters)
  return state, codes, params, ae_m


def fit_steps_1_2(k_ae: jax.Array, k_em: jax.Array, x: jax.Array, cfg: ClusteringConfig, *,
                  loop: LoopOptions | None = None
                  ) -> tuple[wamic.WamicState, jax.Array, gmm.GMMParams, dict]:
  """Steps 1-2: the auto-encoder (with its observation noise), its codes ``[n, d]``, their EM
  mixture with ``cfg.num_clusters`` components, and step 1's metrics (``[S]`` keys: all stacked
  over the runs)."""
  return _single_or_runs(lambda ka, ke: _fit_steps_1_2(ka, ke, x, cfg, _loop(loop)), k_ae, k_em)


@functools.partial(jax.jit, static_argnames="cfg")
def _cluster_codes(keys: jax.Array, codes: jax.Array, params: gmm.GMMParams,
                   cfg: ClusteringConfig) -> dict:
  """Per run: k-means and GMM clusters of the codes, and DiWaC's inputs and start."""
  def one(key, c, g):
    return {"ae_kmeans": gmm.kmeans(key, c, cfg.num_clusters).labels,
            "ae_gmm": gmm.predict(g, c), "h": standardize(c), "target": gmm.predict_proba(g, c)}
  return jax.vmap(one)(keys, codes, params)


@jax.jit
def _diwac_outputs(states: diwac.DiwacState, h: jax.Array) -> tuple[jax.Array, jax.Array]:
  return jax.vmap(lambda st, hh: (diwac.predict(st, hh), diwac.proportions(st, hh)))(states, h)


@jax.jit
def _wamic_outputs(states: wamic.WamicState, x: jax.Array) -> tuple[jax.Array, jax.Array]:
  return jax.vmap(lambda st: (wamic.predict(st, x), wamic.encode(st, x)))(states)


def _run(keys, x, cfg, loop):
  x = jnp.asarray(x, jnp.float32).reshape(x.shape[0], -1)
  rk = run_keys(keys)
  state, codes, gmm_params, ae_m = _fit_steps_1_2(rk["ae"], rk["em"], x, cfg, loop)
  ae_state = state
  cl = _cluster_codes(rk["kmeans"], codes, gmm_params, cfg)
  out = {"ae_kmeans": cl["ae_kmeans"], "ae_gmm": cl["ae_gmm"], "ae_codes": codes,
         "gmm": gmm_params}
  if cfg.ae_restarts > 1:
    out["ae_restart_losses"] = ae_m["restart_losses"]
    out["ae_restart"] = ae_m["restart"]
  curves = {"ae_mse": ae_m["mse"]}
  if cfg.run_diwac:
    dstate, dm = _fit_diwac(rk["diwac"], cl["h"], cl["target"], cfg, loop)
    out["diwac"], out["diwac_proportions"] = _diwac_outputs(dstate, cl["h"])
    curves.update({"diwac_separation": dm["separation"], "diwac_mean_w": dm["mean_w"]})
  state, wm = _fit_wamic_from_codes(rk["wamic"], state, x, cfg, gmm_params, loop)
  out["wamic"], out["wamic_codes"] = _wamic_outputs(state, x)
  out["state"] = state
  out["ae_state"] = ae_state
  curves.update(wm)
  out["curves"] = curves
  return out


def run(key: jax.Array, x: jax.Array, cfg: ClusteringConfig, *,
        loop: LoopOptions | None = None) -> dict:
  """One seed of every method on ``x [n, D]``; with ``[S]`` keys, ``S`` seeds trained together
  (every output then has a leading seed axis).

  Args:
    key: one key, or ``[S]`` keys.
    x: ``[n, D]`` data (or ``[n, ...]``, flattened).
    cfg: the settings.
    loop: how the training phases run (execution, checkpoints and resume under a workdir).

  Returns:
    A dict of ``[n]`` cluster predictions (``ae_kmeans``, ``ae_gmm``, ``wamic``, ``diwac``), the
    codes before / after WAMiC, with ``ae_restarts > 1`` the restarts' training reconstruction
    losses ``ae_restart_losses [R]`` and the kept ``ae_restart``, the final
    :class:`~wassml.clustering.wamic.WamicState` (``state``), the EM mixture, the auto-encoder
    state after step 1 (``ae_state``, for :func:`run_model_selection`), and per-phase training
    curves (``curves``: means of every ``loop.log_every`` steps).
  """
  return _single_or_runs(lambda k: _run(k, x, cfg, _loop(loop)), key)


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

def _critic_score(keys, state, x_heldout, critic, num_samples, num_batches, steps, lr, gp_weight,
                  stratified, loop):
  x_heldout = jnp.asarray(x_heldout)
  n_held = x_heldout.shape[0]
  n = min(num_samples, n_held)
  k_init, k_train, k_eval = _split(keys, 3)
  tx = _adam(lr, 0.5, 0.9)

  def init(k_init, gen):
    params = critic.init(k_init, x_heldout[:1])["params"]
    return {"params": params, "opt": tx.init(params), "gen": gen}

  carry = jax.jit(jax.vmap(init))(k_init, state)
  f = lambda p: lambda v: critic.apply({"params": p}, v)

  def step(st, held, rng):
    k_gen, k_gp = jax.random.split(rng)
    y, _ = wamic.sample_data(k_gen, st["gen"], n, stratified=stratified)
    loss, g = jax.value_and_grad(
        lambda p: ot.critic_loss(k_gp, f(p), held, y, gp_weight=gp_weight)[0])(st["params"])
    upd, opt = tx.update(g, st["opt"], st["params"])
    return {**st, "params": optax.apply_updates(st["params"], upd), "opt": opt}, {
        "critic_loss": loss}

  carry, _ = train_phase(step, carry, k_train, steps,
                         wtrain.RandomRows(x_heldout, n, k_train, replace=False), loop,
                         "critic_score")

  @jax.jit
  def estimate_all(carry, k_eval):
    def estimate(st, key):
      k_gen, k_idx = jax.random.split(key)
      y, _ = wamic.sample_data(k_gen, st["gen"], n, stratified=stratified)
      held = x_heldout[jax.random.choice(k_idx, n_held, (n,), replace=False)]
      return jnp.mean(f(st["params"])(held)) - jnp.mean(f(st["params"])(y))
    return jax.vmap(lambda st, k: jax.vmap(lambda kk: estimate(st, kk))(
        jax.random.split(k, num_batches)))(carry, k_eval)

  return estimate_all(carry, k_eval)


def critic_score(key: jax.Array, state: wamic.WamicState, x_heldout: jax.Array,
                 critic: Critic, *, num_samples: int, num_batches: int, steps: int, lr: float,
                 gp_weight: float = 10.0, stratified: bool = False,
                 loop: LoopOptions | None = None) -> jax.Array:
  """``[num_batches]`` critic estimates of ``W_1`` between held-out and generated data (the
  paper's sec. 4.2 score): a new critic is trained for ``steps`` WGAN-GP steps (Adam ``lr``,
  betas 0.5 / 0.9; a :func:`train_phase` named ``critic_score``) on batches of ``num_samples``
  held-out points (drawn without replacement) and as many generated points
  (:func:`wassml.clustering.wamic.sample_data`), then ``E f(held-out) - E f(generated)`` is
  measured on ``num_batches`` fresh batches.

  ``key``: one key, or ``[S]`` keys with ``state`` stacked over ``S`` generators (the scores are
  then ``[S, num_batches]``)."""
  return _single_or_runs(
      lambda k, st: _critic_score(k, st, x_heldout, critic, num_samples, num_batches, steps, lr,
                                  gp_weight, stratified, _loop(loop)), key, state)


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

@functools.partial(jax.jit, static_argnames=("cfg", "ks"))
def _selection_starts(states: wamic.WamicState, keys: jax.Array, x: jax.Array,
                      cfg: ClusteringConfig, ks: tuple[int, ...]) -> wamic.WamicState:
  """Per run, one state per ``K``: the auto-encoder with the EM mixture of its codes for ``K``
  components (key ``fold_in(key, i)`` for ``ks[i]``), padded to ``max(ks)``: ``[S, len(ks)]``."""
  k_max = max(ks)

  def one(st, key):
    codes = wamic.encode(st, x)
    mixes = [mixture.pad(mixture.from_gmm(fit_code_gmm(jax.random.fold_in(key, i), codes, k,
                                                       cfg)), k_max)
             for i, k in enumerate(ks)]
    mixes = jax.tree.map(lambda *a: jnp.stack(a), *mixes)
    return jax.vmap(lambda mix: wamic.init_mixture(st, mix))(mixes)

  return jax.vmap(one)(states, keys)


def _run_model_selection(keys, x, x_heldout, ae_state, *, cfg, ks, num_samples, num_batches, rule,
                         p, stratified, score, critic_steps, critic_lr, also_exact, loop):
  x = jnp.asarray(x, jnp.float32).reshape(x.shape[0], -1)
  x_heldout = jnp.asarray(x_heldout, jnp.float32).reshape(x_heldout.shape[0], -1)
  ks = tuple(int(k) for k in ks)
  num_runs, num_ks = int(keys.shape[0]), len(ks)
  k_ae, k_em, k_adv, k_score = _split(keys, 4)
  if ae_state is None:
    state, _ = _train_autoencoder(k_ae, x, cfg, max(ks), loop)
    state = _with_output_noise(state, x, cfg)
  else:  # step 1 done once for all (its mixture is replaced below, for every K)
    state = ae_state
  flat = lambda a: a.reshape((num_runs * num_ks,) + a.shape[2:])
  starts = jax.tree.map(flat, _selection_starts(state, k_em, x, cfg, ks))
  adv_keys = flat(jax.vmap(lambda k: jax.random.split(k, num_ks))(k_adv))
  states, _ = _adversarial_phase(adv_keys, starts, x, cfg, loop)
  # Common random numbers: every K is scored on the same held-out batches and the same noise.
  score_keys = jnp.repeat(k_score, num_ks)
  exact = jax.jit(jax.vmap(functools.partial(wasserstein_score, num_samples=num_samples,
                                             num_batches=num_batches, p=p,
                                             stratified=stratified), in_axes=(0, 0, None)))
  by_run = lambda w: w.reshape((num_runs, num_ks) + w.shape[1:])
  if score == "critic":
    w = by_run(_critic_score(score_keys, states, x_heldout, make_models(cfg, x.shape[1])[1],
                             num_samples, num_batches, critic_steps, critic_lr, cfg.gp_weight,
                             stratified, loop))
  elif score == "exact":
    w = by_run(exact(score_keys, states, x_heldout))
  else:
    raise ValueError(f"Unknown model-selection score {score!r}; valid: ('exact', 'critic').")
  select = lambda w, r: jax.vmap(lambda ww: select_k(ww, ks, r))(w)
  out = {"w": w, "mean_w": w.mean(-1), "selected": select(w, rule),
         "selected_min": select(w, "min"),
         "se_w": standard_error(w) if num_batches >= 2 else jnp.full(w.shape[:2], jnp.nan)}
  if num_batches >= 2:
    out["selected_one_se"] = select(w, "one_se")
  if score == "critic" and also_exact:
    we = by_run(exact(jax.vmap(lambda k: jax.random.fold_in(k, 1))(score_keys), states,
                      x_heldout))
    out.update({"w_exact": we, "selected_exact_min": select(we, "min")})
    if num_batches >= 2:
      out["selected_exact_one_se"] = select(we, "one_se")
  return out


def run_model_selection(key: jax.Array, x: jax.Array, x_heldout: jax.Array,
                        cfg: ClusteringConfig, ks: Sequence[int], *, num_samples: int = 500,
                        num_batches: int = 4, rule: str = "min", p: float = 2.0,
                        stratified: bool = False, ae_state: wamic.WamicState | None = None,
                        score: str = "exact", critic_steps: int = 1000, critic_lr: float = 1e-3,
                        also_exact: bool = False, loop: LoopOptions | None = None) -> dict:
  """Steps 1-3 for every ``K`` in ``ks`` (one auto-encoder, mixtures padded to ``max(ks)`` and
  trained together, one :func:`train_phase` run per ``K``); each ``K`` is scored on held-out data
  by :func:`wasserstein_score` (``W_p``, optionally stratified draws), every ``K`` on the same
  held-out batches and generator noise (common random numbers: the differences between ``K`` do
  not carry the batch-to-batch noise).

  ``key``: one key, or ``[S]`` keys for ``S`` seeds (every output then has a leading seed axis,
  and ``ae_state``, when given, is stacked over the seeds). ``loop``: how the phases run.

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
  if score not in ("exact", "critic"):
    raise ValueError(f"Unknown model-selection score {score!r}; valid: ('exact', 'critic').")
  kw = dict(cfg=cfg, ks=ks, num_samples=num_samples, num_batches=num_batches, rule=rule, p=p,
            stratified=stratified, score=score, critic_steps=critic_steps, critic_lr=critic_lr,
            also_exact=also_exact, loop=_loop(loop))
  if ae_state is None:
    return _single_or_runs(lambda k: _run_model_selection(k, x, x_heldout, None, **kw), key)
  return _single_or_runs(lambda k, st: _run_model_selection(k, x, x_heldout, st, **kw), key,
                         ae_state)
