"""Mid-size config: three moons (layout of ``configs/quick.py``), 10 seeds for accuracy and for
model selection over K = 2..6.

Step 1 trains 8 auto-encoders per seed (cosine-decayed learning rate) and keeps the one with the
lowest training reconstruction loss; step 3 trains the mixture at a larger learning rate than the
decoder (``mixture_lr``). Model selection scores each K by the exact W2 between 1000 generated and
1000 held-out points on 8 batches and picks K by the one-standard-error rule (the plain argmin is
reported too).
"""

from experiments.clustering.configs import quick


def get_config():
  c = quick.get_config()
  c.num_seeds = 10
  m = c.model
  m.ae_steps, m.ae_restarts = 6000, 8
  m.critic_warmup_steps, m.adv_steps, m.num_critic = 200, 1000, 5
  m.encoder_steps = 400
  m.diwac_steps = 300
  ms = c.model_selection
  ms.num_seeds, ms.num_samples, ms.num_batches, ms.rule = 10, 1000, 8, "one_se"
  ms.model_overrides = {"critic_warmup_steps": 200, "adv_steps": 500, "adv_per_component": 16}
  return c
