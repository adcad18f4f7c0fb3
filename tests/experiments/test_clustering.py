"""The clustering experiment: quick config end to end, paper config on mocked MNIST."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.clustering import train
from experiments.clustering.configs import (default, digits, digits_long, fashion_mnist,
                                           fashion_mnist_adv3000, fashion_mnist_long, moons, moons_v4,
                                           moons_v4_selection, moons_v5, moons_v5_selection_dev, quick)
from tests.fixtures import Killed, PhaseKiller


def test_quick_config_runs_and_clusters(tmp_path):
  res = train.train_and_evaluate(quick.get_config(), str(tmp_path))
  saved = json.loads((tmp_path / "results.json").read_text())
  for key in ("accuracy", "selected_k", "methods", "model_selection"):
    assert key in saved
  # Three balanced clusters: chance accuracy is about 1/3 after Hungarian matching.
  assert saved["accuracy"] > 0.5
  for m in ("kmeans_raw", "gmm_raw", "ae_kmeans", "ae_gmm", "wamic", "diwac"):
    assert 0.45 < saved["methods"][m]["accuracy"]["mean"] <= 1.0, m
    assert 0.0 <= saved["methods"][m]["nmi"]["mean"] <= 1.0
  assert len(saved["selected_k"]) == quick.get_config().model_selection.num_seeds
  assert all(k in (2, 3, 4, 5, 6) for k in saved["selected_k"])
  for png in ("codes.png", "centroids.png", "generated.png", "model_selection.png"):
    assert (tmp_path / png).stat().st_size > 1000
  assert res["accuracy"] == saved["accuracy"]


@pytest.mark.parametrize("module", [default, digits, digits_long, fashion_mnist, fashion_mnist_adv3000,
                                    fashion_mnist_long, moons, moons_v4, moons_v4_selection, moons_v5,
                                    moons_v5_selection_dev, quick])
def test_configs_build(module):
  cfg = module.get_config()
  mc = train.model_config(cfg)
  assert mc.num_clusters == cfg.num_clusters


def test_default_config_runs_on_mocked_mnist(tmp_path):
  tfds = pytest.importorskip("tensorflow_datasets")
  c = default.get_config()
  c.max_examples = 64
  c.max_heldout_examples = 32
  c.num_seeds = 1
  c.raw_gmm_covariance = "diag"
  m = c.model
  m.hidden, m.critic_hidden, m.batch_size = (16,), (16,), 16
  m.ae_steps, m.critic_warmup_steps, m.adv_steps, m.encoder_steps = 5, 2, 2, 2
  m.adv_per_component, m.num_critic = 2, 1
  m.diwac_distill_steps, m.diwac_steps, m.diwac_num_critic = 2, 2, 1
  m.diwac_hidden, m.diwac_critic_hidden = (8,), (8,)
  with tfds.testing.mock_data(num_examples=64):
    res = train.train_and_evaluate(c, str(tmp_path))
  assert res["dataset"] == "mnist" and res["input_dim"] == 784
  assert 0.0 <= res["accuracy"] <= 1.0
  assert (tmp_path / "results.json").exists()
  assert (tmp_path / "generated.png").exists()


def test_moon_offsets_move_each_moon_and_bad_offsets_raise():
  ds = train.data.load("three_moons", n_per_class=50, noise=0.0)
  off = ((0.0, 0.0), (0.0, -0.25), (0.5, 0.0))
  x = train._moons_variant(ds, 0.0, off)
  for c in range(3):
    np.testing.assert_allclose(x[ds.y == c] - ds.x[ds.y == c], np.broadcast_to(off[c], (50, 2)),
                               atol=1e-6)
  np.testing.assert_allclose(train._moons_variant(ds, 0.5), train._moons_variant(
      ds, 0.0, ((0, 0), (0, 0), (0.5, 0))), atol=1e-6)
  with pytest.raises(ValueError, match="moon_offsets must be 3 pairs"):
    train._moons_variant(ds, 0.0, ((0.0, 0.0),))


def test_moons_config_layout_separates_the_moons():
  """The layout of configs/moons.py: noiseless moons at least 0.4 apart (registry's: touching)."""
  c = moons.get_config()
  c.dataset_kwargs = dict(c.dataset_kwargs, noise=0.0, n_per_class=400)
  d = train.load_data(c)
  x, y = d["x"], d["y"]
  gaps = [np.min(np.linalg.norm(x[y == a][:, None] - x[y == b][None], axis=-1))
          for a, b in ((0, 1), (0, 2), (1, 2))]
  assert min(gaps) > 0.4, gaps


def test_code_label_runs_counts_label_intervals_along_the_code():
  y = np.array([0, 0, 1, 1, 2, 2])
  assert train.code_label_runs(np.array([0.1, 0.2, 0.5, 0.6, 0.9, 1.0]), y) == 3
  assert train.code_label_runs(np.array([0.1, 0.7, 0.5, 0.2, 0.9, 1.0]), y) == 4  # 0 1 1 0 2 2
  with pytest.raises(ValueError, match="needs 1-D codes"):
    train.code_label_runs(np.zeros((6, 2)), y)


def test_model_selection_refuses_non_finite_scores(monkeypatch):
  """A K whose generator went NaN must stop the run with its seed and K named, not be scored
  (the exact solver returns 0 on NaN costs, which once 'selected' a broken K)."""
  def fake(keys, x, xh, cfg, ks, **kw):  # [S] keys: every output stacked over the seeds
    w = jnp.ones((len(keys), len(ks), 2)).at[0, 1].set(jnp.nan)
    zero = jnp.zeros(len(keys), jnp.int32)
    return {"w": w, "mean_w": w.mean(-1), "se_w": w.std(-1), "selected": zero,
            "selected_min": zero}
  monkeypatch.setattr(train.pipeline, "run_model_selection", fake)
  c = quick.get_config()
  cfg = train.model_config(c)
  x = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
  with pytest.raises(FloatingPointError, match=r"seed 0 K=3"):
    train.run_selection(jax.random.split(jax.random.key(0), 2), x, x, cfg, (2, 3, 4),
                        num_samples=10, num_batches=2)


def _tiny_moons():
  c = quick.get_config()
  c.dataset_kwargs = {"n_per_class": 60, "noise": 0.05}
  m = c.model
  m.hidden, m.critic_hidden, m.batch_size = (16,), (16,), 32
  m.ae_steps, m.ae_restarts, m.critic_warmup_steps, m.adv_steps, m.encoder_steps = 40, 1, 3, 3, 3
  m.adv_per_component, m.num_critic, m.run_diwac = 8, 1, False
  return c


def test_ablation_base_variant_equals_the_pipeline_and_shares_steps_1_2(tmp_path, monkeypatch):
  from experiments.clustering import ablation
  from wassml.clustering import pipeline
  c = _tiny_moons()
  c.ablation = dict(seeds=(3,), heldout_w1=True, variants={
      "base": {}, "step3": {"adv_steps": 5}, "step1": {"ae_steps": 30}})
  calls = []
  real = ablation.steps12
  monkeypatch.setattr(ablation, "steps12", lambda *a, **k: calls.append(k["cfg"]) or real(*a, **k))
  out = ablation.run_ablation(c, str(tmp_path))
  # Steps 1-2 ran (were traced) once per distinct step-1 setting: base and step3 share them.
  assert sorted(cfg.ae_steps for cfg in calls) == [30, 40]
  # The base variant is what pipeline.run gives for the same key.
  d = train.load_data(c)
  ref = pipeline.run(jax.random.key(3), jnp.asarray(d["x"]), train.model_config(c))
  rec = out["entries"]["base"]["per_seed"]["3"]
  assert rec["wamic"] == train.scores(d["y"], np.asarray(ref["wamic"]))
  assert rec["ae_gmm"] == train.scores(d["y"], np.asarray(ref["ae_gmm"]))
  assert out["entries"]["step3"]["per_seed"]["3"]["ae_gmm"] == rec["ae_gmm"]
  assert np.isfinite(rec["heldout_w1"]) and rec["code_label_runs"] >= 3
  assert "| step3 | adv_steps=5 |" in (tmp_path / "ablation.md").read_text()
  # Resume: a second run recomputes nothing; a redefined variant is recomputed.
  calls.clear()
  again = ablation.run_ablation(c, str(tmp_path))
  assert calls == [] and again["entries"] == out["entries"]
  c.ablation.variants.step1 = {"ae_steps": 20}
  ablation.run_ablation(c, str(tmp_path))
  assert [cfg.ae_steps for cfg in calls] == [20]


def test_ablation_configs_build():
  from experiments.clustering.configs import ablation_fashion_mnist, ablation_moons
  for module in (ablation_fashion_mnist, ablation_moons):
    c = module.get_config()
    for v in c.ablation.variants.values():
      assert train.model_config(c, **dict(v)).num_clusters == c.num_clusters


def _quantile_map_accuracy_by_quadrature(means, sds, weights, props):
  """Independent of sampling: the class-by-component masses on a fine grid, Hungarian matched."""
  from scipy import optimize, stats
  z = np.linspace(min(means) - 8 * max(sds), max(means) + 8 * max(sds), 400_001)
  dens = np.stack([w * stats.norm.pdf(z, m, s) for m, s, w in zip(means, sds, weights)])
  cdf = np.cumsum(dens.sum(0)) * (z[1] - z[0])
  cls = np.searchsorted(np.cumsum(props)[:-1], cdf, side="right")
  mapk = np.argmax(dens, 0)
  mass = np.zeros((len(props), len(means)))
  np.add.at(mass, (cls, mapk), dens.sum(0) * (z[1] - z[0]))
  r, c = optimize.linear_sum_assignment(-mass)
  return mass[r, c].sum()


@pytest.mark.parametrize("means,sds,weights,separated", [
    ((-3.0, 0.0, 3.0), (0.2, 0.2, 0.2), (1 / 3, 1 / 3, 1 / 3), True),   # separated: 1
    ((-0.8, -0.3, 0.3), (0.25, 0.18, 0.2), (0.3, 0.35, 0.35), False),   # like results/moons_v4
    ((-1.0, 0.0, 1.0), (0.6, 0.2, 0.6), (1 / 3, 1 / 3, 1 / 3), False)])  # unequal widths
def test_quantile_map_accuracy_matches_quadrature(means, sds, weights, separated):
  from experiments.clustering import ablation
  from wassml.clustering import gmm, mixture
  params = mixture.from_gmm(gmm.GMMParams(
      weights=jnp.asarray(weights), means=jnp.asarray(means)[:, None],
      covariances=jnp.asarray(sds)[:, None, None] ** 2))
  props = np.full(3, 1 / 3)
  got = ablation.quantile_map_accuracy(jax.random.key(0), params, props)
  want = _quantile_map_accuracy_by_quadrature(means, sds, weights, props)
  assert abs(got - want) < 4e-3, (got, want)
  if separated:
    assert got > 0.999
  else:
    assert got < 0.99


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
  """A run killed inside WAMiC's adversarial phase, started again in its workdir, restores the
  finished phases, resumes the adversarial phase from its last checkpoint and reports the
  uninterrupted run's results."""
  c = _tiny_moons()
  c.num_seeds = 2
  m = c.model
  m.ae_steps, m.adv_steps, m.encoder_steps, m.critic_warmup_steps = 20, 12, 4, 2
  m.run_diwac, m.diwac_distill_steps, m.diwac_steps, m.diwac_num_critic = True, 3, 3, 1
  m.diwac_hidden, m.diwac_critic_hidden = (8,), (8,)
  c.model_selection.enabled = False
  c.raw_baselines = False
  c.plots = False
  c.checkpoint_every = 4
  loop = PhaseKiller(monkeypatch)
  ref = train.train_and_evaluate(c, str(tmp_path / "ref"))
  loop.kill = ("adversarial", 10)
  with pytest.raises(Killed):
    train.train_and_evaluate(c, str(tmp_path / "run"))
  loop.kill = None
  loop.starts.clear()
  got = train.train_and_evaluate(c, str(tmp_path / "run"))
  assert loop.starts == {"autoencoder": 20, "diwac_distill": 3, "diwac": 3, "critic_warmup": 2,
                    "adversarial": 8, "encoder": 0}
  for method in ("ae_kmeans", "ae_gmm", "wamic", "diwac"):
    for metric in ("accuracy", "nmi", "ari"):
      np.testing.assert_allclose(got["methods"][method][metric]["per_seed"],
                                 ref["methods"][method][metric]["per_seed"], atol=1e-6)
  assert set(got["final_curves"]) == set(ref["final_curves"])
  for name, values in ref["final_curves"].items():
    np.testing.assert_allclose(got["final_curves"][name], values, rtol=1e-5, atol=1e-6)
  assert got["code_label_runs"] == ref["code_label_runs"]
