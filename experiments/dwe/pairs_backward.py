"""Fills the train-pair chunks of a DWE run from the last one backwards.

A second generation process beside ``python -m experiments.dwe.main ... --pairs_only=main``
(which solves the test pairs, then the train chunks 0, 1, 2, ...): this one solves chunks
``num_chunks - 1, num_chunks - 2, ...`` into the same cache (the same files
``generate_pairs`` writes: chunk ``c``'s pairs come from ``fold_in(key, c)``, and
``generate_pairs`` checks each cached chunk's indices before using it) and stops when it meets a
chunk that already exists (or after chunk ``first``). Used for the committed
``results/fmnist`` run, beside the forward process, as two more processes:

  python experiments/dwe/pairs_backward.py runs/dwe_fmnist 5 3   # chunks 4, 3
  python experiments/dwe/pairs_backward.py runs/dwe_fmnist 3 2   # chunk 2
"""

import pathlib
import sys

import jax
from tqdm.auto import tqdm

from experiments.dwe import train as dwe_train
from experiments.dwe.configs import fmnist
from wassml.embedding import pairs as pairs_lib


def main(workdir: str, num_chunks: int, first: int = 0) -> None:
  c = fmnist.get_config()
  cache = pathlib.Path(workdir) / "pairs_train"
  cache.mkdir(parents=True, exist_ok=True)
  k_pairs = jax.random.split(jax.random.key(c.seed), 7)[0]  # as in train_and_evaluate
  x = dwe_train._load_split(c, "train", c.num_train_images, None).x
  for ch in tqdm(list(reversed(range(first, num_chunks)))):
    path = cache / f"chunk_{ch:05d}.npz"
    if path.exists():
      print("chunk", ch, "exists: stop", flush=True)
      break
    i1, i2 = pairs_lib.chunk_pair_indices(k_pairs, len(x), ch, c.pairs.chunk_size)
    w2 = pairs_lib.pair_targets(x[i1], x[i2], batch_size=c.pairs.batch_size)
    if path.exists():
      print("chunk", ch, "written meanwhile: stop", flush=True)
      break
    pairs_lib._atomic_save_npz(path, i1=i1, i2=i2, w2=w2)
    print("chunk", ch, "done", flush=True)


if __name__ == "__main__":
  main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
