"""scikit-learn digits (5 seeds, vmapped) with a long adversarial phase and longer DiWaC.

Same data, seeds, auto-encoder and EM as ``digits.py`` (so AE + k-means / AE + GMM are the same
runs); step 3 of WAMiC has a critic warm start of 1000 and 3000 adversarial iterations with 5
critic steps each (was 400 x 3; decoder Adam 3e-5, mixture 1e-4, critic 1e-4), the encoder phase
1000 steps, DiWaC 3000 steps with 5 critic steps each (was 400 x 3).
"""

from experiments.clustering.configs import digits


def get_config():
  c = digits.get_config()
  m = c.model
  m.critic_warmup_steps, m.adv_steps, m.num_critic = 1000, 3000, 5
  m.adv_lr, m.mixture_lr, m.critic_lr = 3e-5, 1e-4, 1e-4
  m.encoder_steps = 1000
  m.diwac_steps, m.diwac_num_critic = 3000, 5
  return c
