"""Mid-size config: three moons, 10 seeds for accuracy and for model selection over K = 2..6."""

from experiments.clustering.configs import quick


def get_config():
  c = quick.get_config()
  c.num_seeds = 10
  c.model.ae_steps = 3000
  c.model.adv_steps = 300
  c.model.critic_warmup_steps = 100
  c.model.encoder_steps = 400
  c.model.diwac_steps = 300
  c.model_selection.num_seeds = 10
  c.model_selection.num_samples = 500
  c.model_selection.num_batches = 4
  c.model_selection.model_overrides = {"ae_steps": 3000, "critic_warmup_steps": 100,
                                       "adv_steps": 300, "adv_per_component": 16}
  return c
