# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # wassml · the optimal-transport core
#
# Minibatch OT, unbalanced OT and label-space OT as pure JAX functions: jit, vmap and grad work on
# all of them. This notebook runs on Colab (GPU/TPU) and on a laptop CPU.

# %%
# Install: on Colab, clone the repository and install it; locally, use the checkout.
import importlib.util
import os
import shutil
import subprocess
import sys

if importlib.util.find_spec("wassml") is None:
  REPO = os.environ.get("WASSML_REPO", "https://github.com/wassml/wassml.git")
  # The accelerator picks the jax build: a plain install would bring the CPU jaxlib.
  if shutil.which("nvidia-smi"):
    EXTRA = "[cuda12]"
  elif (os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_ACCELERATOR_TYPE")
        or os.path.exists("/dev/accel0")):
    EXTRA = "[tpu]"
  else:
    EXTRA = ""
  subprocess.run(["git", "clone", "--depth", "1", REPO, "wassml"], check=True)
  subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "wassml" + EXTRA], check=True)
  os.chdir("wassml")
  sys.path.insert(0, os.getcwd())

import jax

IN_COLAB = "google.colab" in sys.modules
print("JAX", jax.__version__, "| backend:", jax.default_backend(), "| devices:", jax.devices())

# %%
import functools

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import wassml
from wassml import ot

# %% [markdown]
# ## Exact, entropic and unbalanced OT between two point clouds
# Source: two moons; target: the same moons rotated by 50°. The cost is normalised by its max, so
# `epsilon` and `rho` are relative to it.

# %%
from sklearn.datasets import make_moons

xs, ys = make_moons(80, noise=0.05, random_state=0)
xt, yt = make_moons(80, noise=0.05, random_state=1)
t = np.deg2rad(50)
xt = (xt - xt.mean(0)) @ np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]]) + xt.mean(0)
xs, xt = jnp.asarray(xs, jnp.float32), jnp.asarray(xt, jnp.float32)
cost = ot.sqeuclidean(xs, xt)
cost = cost / cost.max()

results = {
    "exact": ot.emd(cost),
    "sinkhorn eps=0.05": ot.sinkhorn(cost, epsilon=0.05),
    "unbalanced eps=0.05 rho=0.1": ot.unbalanced_sinkhorn(cost, epsilon=0.05, rho=0.1),
}
order_s, order_t = np.argsort(ys, kind="stable"), np.argsort(yt, kind="stable")
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, (name, res) in zip(axes, results.items()):
  ax.imshow(np.asarray(res.plan)[order_s][:, order_t], cmap="magma")
  ax.set_title(f"{name}\n<P,C>={float(res.transport_cost):.4f}, mass={float(res.plan.sum()):.2f}")
plt.show()

# %% [markdown]
# ## Minibatch OT: `k` minibatch problems in one vmapped call, and the averaged plan `Π^m`

# %%
value, out = ot.minibatch_ot(jax.random.key(0), xs, xt, batch_size=16, num_batches=256,
                             solver=ot.emd, return_output=True)
plan = out.plan  # the averaged plan; out.values holds the k per-minibatch costs
print(f"incomplete minibatch estimator h~ (m=16, k=256): {float(value):.4f}")
print("row marginals of Π^m ≈ 1/n:", np.allclose(np.asarray(plan.sum(1)), 1 / 80, atol=3e-3))
plt.imshow(np.asarray(plan)[order_s][:, order_t], cmap="magma")
plt.title("averaged minibatch plan Π^m")
plt.show()

# %% [markdown]
# ## Gradients flow to the points: move the source towards the target by SGD on minibatch OT

# %%
solver = functools.partial(ot.sinkhorn, epsilon=0.05)
loss = lambda x, key: ot.minibatch_ot(key, x, xt, batch_size=32, num_batches=4, solver=solver)
grad_fn = jax.jit(jax.value_and_grad(loss))
x = xs
for step in range(100):
  value, g = grad_fn(x, jax.random.fold_in(jax.random.key(1), step))
  x = x - 20.0 * g
print(f"minibatch OT after 100 steps: {float(value):.4f}")
plt.scatter(*np.asarray(xt).T, s=8, label="target")
plt.scatter(*np.asarray(x).T, s=8, label="moved source")
plt.legend()
plt.show()

# %% [markdown]
# ## Label-space OT (WAR's regulariser), vmapped over a batch

# %%
K = 3
ground_cost = 1.0 - jnp.eye(K)
p = jax.nn.softmax(jax.random.normal(jax.random.key(2), (5, K)))
q = jax.nn.softmax(jax.random.normal(jax.random.key(3), (5, K)))
print("OT_C(p_i, q_i):", np.asarray(ot.label_ot(p, q, ground_cost, epsilon=0.05)))
print("with a uniform 0/1 cost, OT ≈ total variation:", np.asarray(0.5 * jnp.abs(p - q).sum(1)))
