"""``fmnist_partial`` with JUMBOT's unbalanced OT in the ``'kl'`` convention (``KL(P | a b^T)``,
POT ``reg_type='kl'``). With ``rho = 0.1`` the reference's ``'entropy'`` convention lets the plan's
total mass grow far above 1 (the OT term then outweighs the source loss); the ``'kl'`` convention
keeps it bounded. Source-only is rerun as the paired baseline (same seeds, same data order)."""

from experiments.domain_adaptation.configs import fmnist_partial


def get_config():
  c = fmnist_partial.get_config()
  c.name = "fmnist_partial_kl"
  c.methods = ["source_only", "jumbot"]
  c.convention = "kl"
  return c
