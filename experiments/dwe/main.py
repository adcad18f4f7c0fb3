r"""Deep Wasserstein Embedding.

  PYTHONPATH=. python -m experiments.dwe.main --config=experiments/dwe/configs/quick.py \
      --workdir=runs/dwe_quick

``--pairs_only=all|main|cross`` only generates (and checkpoints) the exact W2 pairs of that part;
``--cross_only`` only runs the cross-dataset table (``<workdir>/cross_dataset.json``).
"""

from absl import flags

from experiments import entry
from experiments.dwe import train


def _flags() -> None:
  flags.DEFINE_enum("pairs_only", "", ["", "all", "main", "cross"],
                    "Only generate (and checkpoint) the exact W2 pairs of this part, then exit.")
  flags.DEFINE_bool("cross_only", False,
                    "Only run the cross-dataset table (writes <workdir>/cross_dataset.json).")


def _dispatch(config, workdir: str) -> bool:
  if flags.FLAGS.cross_only:
    res = train.cross_dataset_only(config, workdir)
    print({"mse": res["mse"], "correlation": res["correlation"]})
    return True
  if flags.FLAGS.pairs_only:
    train.generate_all_pairs(config, workdir, flags.FLAGS.pairs_only)
    return True
  return False


if __name__ == "__main__":
  entry.run(train.train_and_evaluate, "dwe",
            keys=("test_mse", "test_relative_mse", "test_correlation", "wall_time_s"),
            extra_flags=_flags, dispatch=_dispatch)
