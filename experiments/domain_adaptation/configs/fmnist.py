"""Mid-size config: Fashion-MNIST -> shifted Fashion-MNIST, 3 seeds, all five methods.

Pairs: the MNIST-M-style colour/texture blend (``fmnist_blend``), a geometric shift (random
rotations in [-45, 45] degrees, ``fmnist_rotate``) and the partial-DA variant of the blend (the
target holds classes 0-4 only, ``fmnist_blend_partial``). The settings follow the JUMBOT digits
reference (Adam 2e-4, eta1 = eta2 = 0.1, rho = 1, eps = 0.1, class-balanced source batches) with
an MLP instead of the digits CNN, smaller batches and far fewer steps so that it runs on a shared 2-core CPU.
"""

from experiments.domain_adaptation.configs import base


def get_config():
  c = base.base_config()
  c.name = "fmnist"
  c.pairs = ["fmnist_blend", "fmnist_rotate", "fmnist_blend_partial"]
  c.seeds = [0, 1, 2]
  c.methods = ["source_only", "dann", "deepjdot", "entropic_deepjdot", "jumbot"]
  c.max_train = 6000           # rows per domain (train split)
  c.max_test = 2000            # rows per domain (test split)
  c.max_eval = 1000
  # An MLP on the flattened images: the DigitsCNN step costs ~1-3 s at this batch on the shared
  # 2-core CPU, too slow for 45 runs; the MLP is ~30x cheaper.
  c.model = "mlp"
  c.hidden = (256, 128)
  c.dann_hidden = 128
  c.learning_rate = 1e-3
  c.per_class = 10             # batches of 100 source + 100 target
  c.pretrain_steps = 400
  c.steps = 400
  c.eval_every = 50
  c.eta1 = 0.1
  c.eta2 = 0.1
  c.epsilon = 0.1
  c.rho = 1.0
  c.embedding_plot = "pca"
  c.plot_points = 600
  c.plot_all_plans = True
  c.exact_method = "host"       # CPU: scipy exact OT (the JAX auction is far slower here)
  return c
