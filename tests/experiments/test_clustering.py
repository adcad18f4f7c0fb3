"""The clustering experiment: quick config end to end, paper config on mocked MNIST."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.clustering import train
from experiments.clustering.configs import (default, digits, digits_long, fashion_mnist,
                                           fashion_mnist_adv3000, fashion_mnist_long, moons, moons_v4,
                                           moons_v4_selection, quick)


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
                                    fashion_mnist_long, moons, moons_v4, moons_v4_selection, quick])
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
  def fake(key, x, xh, cfg, ks, **kw):
    w = jnp.ones((len(ks), 2)).at[1].set(jnp.nan)
    return {"w": w, "mean_w": w.mean(-1), "se_w": w.std(-1), "selected": jnp.int32(0),
            "selected_min": jnp.int32(0)}
  monkeypatch.setattr(train.pipeline, "run_model_selection", fake)
  c = quick.get_config()
  cfg = train.model_config(c)
  x = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
  with pytest.raises(FloatingPointError, match=r"seed 0 K=3"):
    train.run_selection(jax.random.split(jax.random.key(0), 2), x, x, cfg, (2, 3, 4),
                        num_samples=10, num_batches=2)
