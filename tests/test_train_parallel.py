"""Data-parallel training on 4 simulated CPU devices must match the single-device run.

Runs in a subprocess with ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` so the other
tests keep one device.
"""

import os
import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np, optax
    from wassml import nn as wnn, train as wtrain
    assert jax.device_count() == 4, jax.devices()
    mesh = wtrain.make_mesh()

    def w2_1d(rng, a, b):
      # Exact squared 2-Wasserstein between two equal-size 1-D samples (sorted matching).
      del rng
      return jnp.mean((jnp.sort(a) - jnp.sort(b)) ** 2)

    # 1. per_shard_mean == mean of the minibatch terms of the 4 contiguous chunks (and grads).
    a = jax.random.normal(jax.random.key(0), (32,))
    b = 2.0 + jax.random.normal(jax.random.key(1), (32,))
    g = wtrain.per_shard_mean(w2_1d, mesh)
    val = jax.jit(g)(jax.random.key(3), a, b)
    ref = np.mean([w2_1d(None, a[i*8:(i+1)*8], b[i*8:(i+1)*8]) for i in range(4)])
    np.testing.assert_allclose(val, ref, rtol=1e-6)
    full = w2_1d(None, a, b)
    assert abs(float(full) - float(ref)) > 1e-4  # per-shard is NOT the full-batch OT
    ga = jax.grad(lambda u: g(jax.random.key(3), u, b))(a)
    gr = jax.grad(lambda u: jnp.mean(jnp.stack(
        [w2_1d(None, u[i*8:(i+1)*8], b[i*8:(i+1)*8]) for i in range(4)])))(a)
    np.testing.assert_allclose(ga, gr, rtol=1e-5, atol=1e-7)
    # the key handed to each shard is fold_in(rng, device index)
    kv = wtrain.per_shard_mean(lambda r, x: jax.random.uniform(r) + 0 * x.sum(), mesh)(
        jax.random.key(9), a)
    kref = np.mean([jax.random.uniform(jax.random.fold_in(jax.random.key(9), i)) for i in range(4)])
    np.testing.assert_allclose(kv, kref, rtol=1e-6)

    # 2. A training step (CE + a minibatch-OT term on features) data-parallel vs single device.
    model = wnn.MLP(hidden=(16,), num_outputs=3, use_batchnorm=False, dropout_rate=0.0)
    x = jax.random.normal(jax.random.key(4), (64, 5))
    y = jnp.arange(64) % 3
    t = jax.random.normal(jax.random.key(5), (64, 5)) + 1.0
    state0 = wtrain.create_train_state(jax.random.key(6), model, x[:1], optax.adam(1e-2))

    def make_loss(ot_mean):
      def loss_fn(params, bs, batch, rng):
        logits, fs = model.apply({"params": params}, batch["x"], return_features=True)
        _, ft = model.apply({"params": params}, batch["t"], return_features=True)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
        ot = ot_mean(rng, fs[:, 0], ft[:, 0])
        return ce + 0.1 * ot, ({"ot": ot}, bs)
      return loss_fn

    def chunk_mean(rng, u, v):
      return jnp.mean(jnp.stack([w2_1d(jax.random.fold_in(rng, i), u[i*16:(i+1)*16],
                                       v[i*16:(i+1)*16]) for i in range(4)]))

    dp_step = wtrain.data_parallel(wtrain.make_step(make_loss(wtrain.per_shard_mean(w2_1d, mesh))))
    one_step = jax.jit(wtrain.make_step(make_loss(chunk_mean)))
    s_dp, s_one = state0, jax.device_put(state0, jax.devices()[0])
    batch = {"x": x, "y": y, "t": t}
    for i in range(3):
      s_dp, m_dp = dp_step(s_dp, batch, jax.random.key(i))
      s_one, m_one = one_step(s_one, jax.device_put(batch, jax.devices()[0]), jax.random.key(i))
      np.testing.assert_allclose(m_dp["loss"], m_one["loss"], rtol=1e-5)
      np.testing.assert_allclose(m_dp["ot"], m_one["ot"], rtol=1e-5)
    jax.tree_util.tree_map(lambda p, q: np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-6),
                           s_dp.params, s_one.params)
    leaf = jax.tree_util.tree_leaves(s_dp.params)[0]
    assert len(leaf.sharding.device_set) == 4  # replicated over the 4 devices
    assert len(s_one.params["Dense_0"]["kernel"].sharding.device_set) == 1
    try:
      dp_step(s_dp, {"x": x[:6], "y": y[:6], "t": t[:6]}, jax.random.key(0))
      raise AssertionError("expected a ValueError")
    except ValueError as e:
      assert "divisible" in str(e)
    print("PARALLEL_OK")
""")


def test_data_parallel_matches_single_device():
  env = dict(os.environ)
  env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4")
  env["JAX_PLATFORMS"] = "cpu"
  env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
  proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True,
                        text=True, timeout=900)
  assert proc.returncode == 0 and "PARALLEL_OK" in proc.stdout, proc.stdout + proc.stderr[-4000:]
