"""Partial DA on the shift where adaptation works in the ``fmnist`` run: Fashion-MNIST -> rotated
Fashion-MNIST whose target holds classes 0-4 only. Same settings as ``fmnist.py`` except the
marginal penalty: ``rho = 0.1`` (partial DA needs a looser marginal than the digits' ``tau = 1``;
the JUMBOT paper used ``tau = 0.06`` on partial Office-Home)."""

from experiments.domain_adaptation.configs import fmnist


def get_config():
  c = fmnist.get_config()
  c.name = "fmnist_partial"
  c.pairs = ["fmnist_rotate_partial"]
  c.methods = ["source_only", "deepjdot", "entropic_deepjdot", "jumbot"]
  c.rho = 0.1
  return c
