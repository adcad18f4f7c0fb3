"""Quick config (CI, <= 75 s on 2 cores): rotated two moons, 30 and 50 degrees, one seed."""

from experiments.domain_adaptation.configs import base


def get_config():
  c = base.base_config()
  c.name = "quick"
  c.pairs = ["moons_rot30", "moons_rot50"]
  c.methods = ["source_only", "deepjdot", "jumbot"]
  c.max_train = 600            # 300 points per domain
  c.max_test = 600
  c.model = "mlp"
  c.hidden = (64, 64)
  c.learning_rate = 1e-2
  c.per_class = 32             # batches of 64
  c.pretrain_steps = 150
  c.steps = 300
  c.eval_every = 50
  c.checkpoint_every = 0       # each run checkpoints at its end only
  c.eta1 = 0.1
  c.eta2 = 0.1
  c.epsilon = 0.1
  c.rho = 1.0
  c.plot_points = 300
  c.exact_method = "host"       # CPU: scipy exact OT (the JAX auction is far slower here)
  return c
