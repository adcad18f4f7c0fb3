"""Generative family: minimum minibatch-Wasserstein fitting and the theory illustrations."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from wassml import nn as wnn
from wassml import ot
from wassml.generative import fitting, losses, theory


def _moons(n, seed):
  from sklearn.datasets import make_moons
  x, _ = make_moons(n, noise=0.05, random_state=seed)
  return ((x - x.mean(0)) / x.std(0)).astype(np.float32)


@pytest.mark.parametrize("name", ["exact", "sinkhorn_divergence", "sliced"])
def test_fit_reduces_w2_well_below_initial(name):
  data = _moons(1000, 0)
  heldout = jnp.asarray(_moons(300, 1))
  loss_fn = losses.minibatch_loss(name, batch_size=64, num_batches=2, epsilon=0.05)
  step = fitting.make_ot_fitting_step(loss_fn)
  gen = wnn.MLP(hidden=(64, 64), num_outputs=2)
  state = fitting.create_generator_state(jax.random.key(0), gen, 2, optax.adam(3e-3))
  before = float(losses.exact_w2(fitting.sample(jax.random.key(1), state, 300), heldout))
  state, hist = fitting.fit(jax.random.key(2), state, data, step, num_steps=200, batch_size=128,
                            num_snapshots=2, progress=False,
                            snapshot_fn=lambda k, st: fitting.sample(k, st, 50))
  after = float(losses.exact_w2(fitting.sample(jax.random.key(1), state, 300), heldout))
  assert np.isfinite(hist["loss"])  # the mean loss of the last logging period
  assert [t for t, _ in hist["snapshots"]] == [0, 200]  # before training and at the end
  assert all(x.shape == (50, 2) for _, x in hist["snapshots"])
  assert after < 0.5 * before, (before, after)


def test_empirical_1d_plan_converges_to_closed_form():
  n, m = 8, 3
  x = jnp.linspace(0.0, 1.0, n)[:, None]
  errs = []
  for k in (20, 2000):
    _, mb = ot.minibatch_ot(jax.random.key(k), x, x + 0.3, batch_size=m, num_batches=k,
                            solver=ot.emd, return_output=True)
    plan = mb.plan
    errs.append(np.abs(np.asarray(plan) - np.asarray(ot.minibatch_plan_1d(n, m))).max())
  assert errs[1] < errs[0]
  assert errs[1] < 0.15 * float(np.asarray(ot.minibatch_plan_1d(n, m)).max()) + 5e-3


def test_unbalanced_removes_cross_class_connections():
  conn = theory.class_connections(jax.random.key(0), n_per_class=10, batch_size=8,
                                  num_batches=200)
  assert conn["balanced_cross_class_mass"] > 0.02
  assert conn["unbalanced_cross_class_mass"] < 0.5 * conn["balanced_cross_class_mass"]


def test_bias_is_positive_below_n_and_zero_at_n():
  bias = theory.bias_curve(jax.random.key(0), n=16, batch_sizes=(4, 16), num_batches=50)
  assert bias["h_aa"][0] > 1e-3
  assert abs(bias["h_aa"][1]) < 1e-4


def test_deviation_bound_dominates_measurement():
  dev = theory.deviation_curve(jax.random.key(0), n=30, batch_sizes=(5,), ks=(1, 16),
                               reference_batches=300, repeats=8)
  measured, bound = np.asarray(dev["deviation"][5]), np.asarray(dev["bound"][5])
  assert np.all(measured <= bound)
  assert measured[1] < measured[0]


def test_bad_input():
  with pytest.raises(ValueError, match="Unknown OT loss"):
    losses.minibatch_loss("kl")
  with pytest.raises(ValueError, match="num_batches"):
    losses.minibatch_loss("exact", num_batches=0)
  loss_fn = losses.minibatch_loss("exact", batch_size=64)
  with pytest.raises(ValueError, match="dimension"):
    loss_fn(jax.random.key(0), jnp.zeros((64, 2)), jnp.zeros((64, 3)))
  with pytest.raises(ValueError, match="larger than the number of samples"):
    loss_fn(jax.random.key(0), jnp.zeros((32, 2)), jnp.zeros((32, 2)))
  gen = wnn.MLP(hidden=(8,), num_outputs=2)
  state = fitting.create_generator_state(jax.random.key(0), gen, 2, optax.sgd(0.1))
  step = fitting.make_ot_fitting_step(losses.minibatch_loss("sliced"))
  with pytest.raises(ValueError, match="larger than the dataset"):
    fitting.fit(jax.random.key(0), state, np.zeros((10, 2), np.float32), step, num_steps=1,
                batch_size=20, progress=False)


def test_image_generator_outputs_flat_pixels_in_unit_interval():
  from wassml.generative import ImageGenerator
  gen = ImageGenerator(num_outputs=12, hidden=(8,))
  params = gen.init(jax.random.key(0), jnp.zeros((1, 3)))
  x = gen.apply(params, 10.0 * jax.random.normal(jax.random.key(1), (5, 3)))
  assert x.shape == (5, 12)
  assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
