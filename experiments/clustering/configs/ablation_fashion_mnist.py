"""Ablation of WAMiC's step 3-4 settings on Fashion-MNIST (``python -m experiments.clustering.ablation``).

Base: ``configs/fashion_mnist.py`` (10 000 images, critic step 3 of 300 iterations). Development
keys 500-502 (not the reported runs' keys). The question: does any cheap change of steps 3-4 (the
critic-free Sinkhorn step 3, the cycle term of step 4, a faster or longer mixture update, GeWaC's
concatenation) open the +3-point gap over AE + GMM that issue #4 asks for?
"""

from experiments.clustering.configs import fashion_mnist


def get_config():
  c = fashion_mnist.get_config()
  c.ablation = dict(
      seeds=(500, 501, 502),
      heldout_w1=False,
      variants={
          "fashion_mnist": {},
          "sinkhorn_eps1": {"adversary": "sinkhorn", "adv_epsilon": 1.0, "adv_steps": 1000,
                            "adv_per_component": 26, "mixture_lr": 1e-4},
          "sinkhorn_eps5": {"adversary": "sinkhorn", "adv_epsilon": 5.0, "adv_steps": 1000,
                            "adv_per_component": 26, "mixture_lr": 1e-4},
          "cycle1": {"latent_weight": 1.0},
          "cycle10": {"latent_weight": 10.0},
          "mixture_lr1e-3": {"mixture_lr": 1e-3},
          "mixture_lr1e-3_x3": {"mixture_lr": 1e-3, "adv_steps": 1000},
          "gewac": {"concat": True},
      })
  return c
