"""Writes the family notebooks (jupytext ``.py`` percent scripts) and pairs them as ``.ipynb``.

  .venv/bin/python colabs/build.py      # regenerate colabs/<family>.py and colabs/<family>.ipynb

Each notebook: an install cell that works on Colab (clone + pip install) and reports the
accelerator; a data cell that loads through TFDS on Colab and falls back to the offline sources
here; the family's quick experiment through the same ``experiments/<name>/train.py`` function the
tests and ``wassml tour`` call; the results and the figures inline. ``ot_core.py`` is written by
hand, except its install cell, which is ``INSTALL_CELL`` like every other notebook's. ``tests/test_colabs.py`` checks the pairing and executes every notebook.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent

# The install cell of every notebook (ot_core.py included: main() writes it there too).
INSTALL_CELL = '''# %%
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
'''

HEADER = '''# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # wassml · {title}
#
{description}

{install}
# %% [markdown]
# ## Data
# On Colab the seed's dataset comes through TFDS (`tfds.data_source`, no TensorFlow needed); here
# the offline stand-in is used.

# %%
import matplotlib.pyplot as plt
import numpy as np

from wassml import data

{data}

# %% [markdown]
# ## The experiment
# The same `train_and_evaluate(config, workdir)` as `wassml run {name} --config quick`.

# %%
import json
import pathlib

from IPython.display import Image, display

from experiments.{name} import train
from experiments.{name}.configs import quick

config = quick.get_config()
{overrides}workdir = pathlib.Path("runs/colab_{name}")
results = train.train_and_evaluate(config, str(workdir))
print(json.dumps(results, indent=1, default=str)[:3000])

# %%
for png in sorted(workdir.glob("*.png")):
  print(png.name)
  display(Image(str(png)))
'''

IMAGES = '''def load_images(tfds_name, offline_name, n=2000):
  if IN_COLAB:
    try:
      return data.load(tfds_name, "train", max_examples=n)
    except Exception as err:  # no network / no TFDS: fall back
      print("TFDS unavailable:", err)
  return data.load(offline_name, "train", max_examples=n)

ds = load_images({tfds!r}, {offline!r})
print(ds.name, ds.x.shape, "classes:", ds.num_classes)
fig, axes = plt.subplots(1, 10, figsize=(12, 1.5))
for ax, img in zip(axes, ds.x[:10]):
  ax.imshow(img.squeeze(), cmap="gray")
  ax.axis("off")
plt.show()'''

POINTS = '''ds = data.load({offline!r}, "train")
print(ds.name, ds.x.shape, "classes:", ds.num_classes)
plt.scatter(ds.x[:, 0], ds.x[:, 1], c=ds.y, s=3, cmap="tab10")
plt.show()'''

FAMILIES = {
    "clustering": dict(
        title="Wasserstein clustering (WAMiC / GeWaC, DiWaC, model selection)",
        description="# Auto-encoder, EM GMM on the codes, a WGAN-GP step on the decoder and the mixture,\n"
                    "# an encoder retrained against the fixed decoder, MAP clustering; DiWaC; and model\n"
                    "# selection of K by the Wasserstein distance of generated to held-out data.\n"
                    "# Paper: Harchaoui et al. 2018 (MNIST 98.42%). Here: the three-moons toy.",
        data=POINTS.format(offline="three_moons")),
    "noisy_labels": dict(
        title="Learning with noisy labels: CCE vs VAT vs WAR",
        description="# Wasserstein adversarial regularisation (Fatras et al.): VAT's adversarial direction\n"
                    "# with KL replaced by label-space OT with a class ground cost.",
        data=IMAGES.format(tfds="fashion_mnist", offline="fashion_mnist")),
    "domain_adaptation": dict(
        title="Domain adaptation with minibatch OT: DeepJDOT and JUMBOT",
        description="# One joint-distribution OT coupling; DeepJDOT solves it exactly, JUMBOT with\n"
                    "# unbalanced entropic OT. Here: rotated two moons.",
        data=POINTS.format(offline="moons")),
    "active_learning": dict(
        title="Active learning: DFAL and baselines, Wasserstein prototypes",
        description="# A pool-based loop (retrain from scratch each round, seeds vmapped) with\n"
                    "# DeepFool-based DFAL against random queries; Wasserstein prototypes.",
        data=IMAGES.format(tfds="mnist", offline="digits")),
    "dwe": dict(
        title="Deep Wasserstein Embedding",
        description="# W2 between images learned as a Euclidean distance in an embedding; barycenters,\n"
                    "# interpolation and PGA in the embedding.",
        data=IMAGES.format(tfds="mnist", offline="digits")),
    "generative": dict(
        title="Generative modelling with minibatch OT losses",
        description="# Minimum minibatch-Wasserstein estimation of a generator (exact, Sinkhorn,\n"
                    "# unbalanced, Sinkhorn divergence, sliced) against WGAN-GP; the minibatch-OT\n"
                    "# theory figures.",
        data=POINTS.format(offline="moons")),
    "text_saliency": dict(
        title="Text CNN deconvolution saliency vs z-scores",
        description="# A text CNN on an offline labelled corpus, its deconvolution saliency per word,\n"
                    "# and the z-score baseline.",
        data='''if IN_COLAB:  # the offline corpus is Debian's fortunes package
  subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "fortunes"], check=False)
from wassml.text import corpus
texts = corpus.load_corpus("fortunes", "train")
print(texts.name, len(texts.x), "texts, classes:", texts.num_classes)
print(texts.x[0][:300])'''),
}


def render(name: str, spec: dict) -> str:
  return HEADER.format(name=name, install=INSTALL_CELL, overrides=spec.get("overrides", ""), **{
      k: v for k, v in spec.items() if k != "overrides"})


def write_install_cell(path: pathlib.Path) -> None:
  """Replaces the install cell of a hand-written notebook script with ``INSTALL_CELL``."""
  text = path.read_text()
  start = text.index("# %%\n# Install: on Colab")
  end = text.index("\n", text.index('print("JAX", jax.__version__', start)) + 1
  path.write_text(text[:start] + INSTALL_CELL + text[end:])


def main() -> None:
  for name, spec in FAMILIES.items():
    path = HERE / f"{name}.py"
    path.write_text(render(name, spec))
  write_install_cell(HERE / "ot_core.py")
  scripts = [str(HERE / f"{n}.py") for n in [*FAMILIES, "ot_core"]]
  subprocess.run([sys.executable, "-m", "jupytext", "--set-formats", "ipynb,py:percent", *scripts],
                 check=True)


if __name__ == "__main__":
  main()
