"""Fresh-seed check of the rules suggested by ``fmnist_cnn``: reverse-validation selection and the
reference rho = 1 on every pair (partial included), declared before this run.

``fmnist_cnn`` (seeds 0-2) suggested, after its results were seen, that source-validation
selection keeps early checkpoints and that rho = 0.3 empties JUMBOT's plan on the partial pair.
This run fixes the alternatives in advance and runs them on seeds 3 and 4 (new textures, angles,
source/validation splits and initialisations) with source-only, DeepJDOT and JUMBOT only, to fit
the time left.
"""

from experiments.domain_adaptation.configs import fmnist_cnn


def get_config():
  c = fmnist_cnn.get_config()
  c.name = "fmnist_cnn_confirm"
  c.seeds = [3, 4]
  c.methods = ["source_only", "deepjdot", "jumbot"]
  c.rho = 1.0
  c.pair_overrides = {}
  c.selection = "reverse_val"
  return c
