"""Ablation of WAMiC's step 3-4 settings on three moons (``python -m experiments.clustering.ablation``).

Base: ``configs/moons_v4.py``. Development keys 300 and 301 (not the reported runs' keys). The
question: does a stronger step 3 (faster, longer, larger minibatches at smaller epsilon, or the
critic), the cycle term of step 4, or a larger code noise in step 1 move WAMiC towards the
paper's 100 %? Steps 1-2 are shared by every variant that leaves them alone.
"""

from experiments.clustering.configs import moons_v4


def get_config():
  c = moons_v4.get_config()
  c.ablation = dict(
      seeds=(300, 301),
      heldout_w1=True,
      variants={
          "moons_v4": {},
          "lr1e-3_x3": {"adv_lr": 1e-3, "mixture_lr": 1e-3, "adv_steps": 3000},
          "batch600_eps3e-3": {"adv_per_component": 200, "adv_epsilon": 0.003,
                                "adv_steps": 1000, "adv_lr": 3e-4, "mixture_lr": 3e-4},
          "critic": {"adversary": "critic", "adv_lr": 1e-5, "mixture_lr": 1e-5,
                     "adv_per_component": 32},
          "cycle1": {"latent_weight": 1.0},
          "code_noise_0p1": {"ae_code_noise": 0.1},
          "code_noise_0p2": {"ae_code_noise": 0.2, "ae_code_noise_start": 0.2},
          # Added after the rows above: a tied covariance and equal, fixed proportions, the
          # mixture whose quantile-map accuracy is close to 1 (see docs/clustering.md).
          "tied_equal": {"gmm_covariance": "tied", "gmm_equal_weights": True,
                         "train_proportions": False},
      })
  return c
