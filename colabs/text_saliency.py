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
# # wassml · Text CNN deconvolution saliency vs z-scores
#
# A text CNN on an offline labelled corpus, its deconvolution saliency per word,
# and the z-score baseline.

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

# %% [markdown]
# ## Data
# On Colab the seed's dataset comes through TFDS (`tfds.data_source`, no TensorFlow needed); here
# the offline stand-in is used.

# %%
import matplotlib.pyplot as plt
import numpy as np

from wassml import data

if IN_COLAB:  # the offline corpus is Debian's fortunes package
  subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "fortunes"], check=False)
from wassml.text import corpus
texts = corpus.load_corpus("fortunes", "train")
print(texts.name, len(texts.x), "texts, classes:", texts.num_classes)
print(texts.x[0][:300])

# %% [markdown]
# ## The experiment
# The same `train_and_evaluate(config, workdir)` as `wassml run text_saliency --config quick`.

# %%
import json
import pathlib

from IPython.display import Image, display

from experiments.text_saliency import train
from experiments.text_saliency.configs import quick

config = quick.get_config()
workdir = pathlib.Path("runs/colab_text_saliency")
results = train.train_and_evaluate(config, str(workdir))
print(json.dumps(results, indent=1, default=str)[:3000])

# %%
for png in sorted(workdir.glob("*.png")):
  print(png.name)
  display(Image(str(png)))
