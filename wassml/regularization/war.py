"""CCE, VAT and WAR training losses for learning with noisy labels.

    L(theta) = (1/n) sum_i CE(y_i, f(x_i)) + beta * D(f̂(x_i), f(x_i + r_i)),
    r_i = argmax_{||r|| <= radius} D(f̂(x_i), f(x_i + r)),

with ``D = KL`` for VAT and ``D = OT^eps_C`` (label OT with a class ground cost ``C``) for WAR
(Fatras et al., 2021); CCE is ``beta = 0``. ``r_i`` comes from the shared power-iteration routine
:func:`wassml.regularization.adversarial.adversarial_direction`.

Reference settings (the WAR CIFAR-10 code): batch 256, Adam 1e-3 (x0.1 at epochs 40 and 80),
120 epochs, ``beta = 10`` after a 15-epoch warm-up, radius 0.005, Sinkhorn ``eps = 0.05`` with
20 iterations. :func:`beta_schedule` implements the warm-up.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from wassml.regularization import adversarial
from wassml.regularization import divergences

METHODS = ("cce", "vat", "war")


def cross_entropy(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
  """Categorical cross-entropy per example.

  Args:
    logits: ``[B, K]``.
    labels: ``[B]`` integer labels (possibly noisy).

  Returns:
    ``[B]`` losses.
  """
  logp = jax.nn.log_softmax(logits, axis=-1)
  return -jnp.take_along_axis(logp, jnp.asarray(labels)[:, None].astype(jnp.int32), axis=-1)[:, 0]


def beta_schedule(
    step: ArrayLike, *, beta: float, warmup_steps: int, kind: str = "step") -> jax.Array:
  """Weight of the adversarial term at a training step.

  ``kind="step"`` (the reference code's warm-up: plain CCE for the warm-up epochs, then the full
  ``beta``), ``"linear"`` (ramp from 0 to ``beta`` over the warm-up) or ``"sigmoid"`` (the
  ``exp(-5 (1 - s)^2)`` ramp-up of semi-supervised VAT/mean-teacher codes, ``s = step / warmup``).

  Args:
    step: current step (traceable).
    beta: final weight.
    warmup_steps: warm-up length in steps (0: ``beta`` from the start).
    kind: ``"step"``, ``"linear"`` or ``"sigmoid"``.

  Returns:
    Scalar weight.
  """
  if kind not in ("step", "linear", "sigmoid"):
    raise ValueError(f"unknown beta schedule {kind!r}; valid: 'step', 'linear', 'sigmoid'.")
  step = jnp.asarray(step, jnp.float32)
  if warmup_steps <= 0:
    return jnp.asarray(beta, jnp.float32)
  s = jnp.clip(step / warmup_steps, 0.0, 1.0)
  if kind == "step":
    w = (step >= warmup_steps).astype(jnp.float32)
  elif kind == "linear":
    w = s
  else:
    w = jnp.exp(-5.0 * (1.0 - s) ** 2)
  return beta * w


def make_divergence(
    method: str,
    *,
    cost: ArrayLike | None = None,
    epsilon: float = 0.05,
    num_iters: int = 20,
    debiased: bool = False,
    mode: str = "auto",
) -> divergences.Divergence | None:
  """The divergence of a method: ``None`` (CCE), KL (VAT) or label OT with ``cost`` (WAR).

  ``epsilon``, ``num_iters``, ``debiased`` and ``mode`` are WAR's (see
  :func:`wassml.regularization.divergences.label_ot_divergence`).
  """
  if method not in METHODS:
    raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}.")
  if method == "cce":
    return None
  if method == "vat":
    return divergences.kl_divergence
  if cost is None:
    raise ValueError("WAR needs a [K, K] ground cost `cost` (see wassml.regularization.ground_cost).")
  return divergences.label_ot_divergence(cost, epsilon=epsilon, num_iters=num_iters,
                                         debiased=debiased, mode=mode)


def regularized_loss(
    rng: jax.Array,
    logits_fn: Callable[[jax.Array], jax.Array],
    x: ArrayLike,
    labels: ArrayLike,
    *,
    divergence: divergences.Divergence | None,
    beta: ArrayLike,
    xi: float = 1e-2,
    num_iters: int = 1,
    radius: float = 1.0,
    precision: str | None = "auto",
) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Minibatch CCE / VAT / WAR loss.

  Args:
    rng: key for the adversarial direction.
    logits_fn: ``x [B, ...] -> [B, K]``, the model with its parameters closed over.
    x: ``[B, ...]`` inputs.
    labels: ``[B]`` (noisy) labels.
    divergence: ``None`` for CCE, else ``(p, logits) -> [B]`` (see :func:`make_divergence`).
    beta: weight of the adversarial term (e.g. from :func:`beta_schedule`).
    xi, num_iters, radius, precision: adversarial-direction settings (see
      :func:`wassml.regularization.adversarial.adversarial_direction`).

  Returns:
    ``(loss, metrics)`` with the scalar loss and a dict of scalars (``ce``, ``reg``, ``acc``).
  """
  logits = logits_fn(jnp.asarray(x))
  ce = jnp.mean(cross_entropy(logits, labels))
  if divergence is None:
    reg = jnp.zeros(())
  else:
    reg = jnp.mean(adversarial.adversarial_regularizer(
        rng, logits_fn, x, logits, divergence, xi=xi, num_iters=num_iters, radius=radius,
        precision=precision))
  acc = jnp.mean(jnp.argmax(logits, -1) == jnp.asarray(labels))
  loss = ce + beta * reg
  return loss, {"loss": loss, "ce": ce, "reg": reg, "acc_noisy": acc}
