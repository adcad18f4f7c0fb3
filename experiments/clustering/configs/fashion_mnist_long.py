"""Fashion-MNIST (10 000 training images, 5 seeds) with a long adversarial phase and longer DiWaC.

Same data, seeds, auto-encoder (784-128-128-256-10, 1500 steps) and EM as ``fashion_mnist.py``, so
AE + k-means / AE + GMM are the same runs; what changes is step 3 of WAMiC (critic warm start 500,
1500 adversarial iterations with 3 critic steps each instead of 300; decoder Adam 3e-5, mixture
1e-4, critic 1e-4), the encoder phase (1000 steps) and DiWaC (3000 steps of ``L^OvR_n`` with 5
critic steps each instead of 400 x 3). Raw-data k-means / GMM are copied from the earlier run
(``raw_baselines_from``: same data, seeds and code path) to save ~15 min of CPU.
"""

from experiments.clustering.configs import fashion_mnist


def get_config():
  c = fashion_mnist.get_config()
  c.raw_baselines = False
  c.raw_baselines_from = "experiments/clustering/results/fashion_mnist/results.json"
  m = c.model
  m.critic_warmup_steps, m.adv_steps, m.num_critic = 500, 1500, 3
  m.adv_lr, m.mixture_lr, m.critic_lr = 3e-5, 1e-4, 1e-4
  m.encoder_steps = 1000
  m.diwac_steps, m.diwac_num_critic = 3000, 5
  return c
