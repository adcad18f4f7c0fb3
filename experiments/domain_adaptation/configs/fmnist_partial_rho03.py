"""``fmnist_partial`` with rho = 0.3 (between the digits' 1, which barely down-weights the missing
classes, and 0.1, whose plan mass explodes in the ``'entropy'`` convention); source-only,
DeepJDOT and JUMBOT in one run so that the issue's ordering can be checked."""

from experiments.domain_adaptation.configs import fmnist_partial


def get_config():
  c = fmnist_partial.get_config()
  c.name = "fmnist_partial_rho03"
  c.methods = ["source_only", "deepjdot", "jumbot"]
  c.rho = 0.3
  return c
