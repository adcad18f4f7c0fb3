"""The benchmark's PyTorch side: the same networks and steps as wassml's, written in PyTorch.

Only ``experiments/bench_train`` imports this module, and only when the ``bench`` extra
(``torch==2.13.0``, CPU build) is installed; ``make test`` never needs PyTorch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class SmallCNN(nn.Module):
  """``wassml.nn.SmallCNN`` as noisy_labels uses it (no batch norm, no dropout), NCHW."""

  def __init__(self, num_classes: int = 10, widths=(32, 64), feature_dim: int = 128, size=28,
               channels=1):
    super().__init__()
    self.c1 = nn.Conv2d(channels, widths[0], 3, padding=1)
    self.c2 = nn.Conv2d(widths[0], widths[1], 3, padding=1)
    self.fc = nn.Linear(widths[1] * (size // 4) ** 2, feature_dim)
    self.out = nn.Linear(feature_dim, num_classes)

  def forward(self, x):
    h = F.max_pool2d(F.relu(self.c1(x)), 2)
    h = F.max_pool2d(F.relu(self.c2(h)), 2)
    return self.out(F.relu(self.fc(h.flatten(1))))


class DigitsCNN(nn.Module):
  """``wassml.nn.DigitsCNN`` (the JUMBOT digits network): returns ``(logits, features)``."""

  def __init__(self, num_classes: int = 10, widths=(32, 64, 128), feature_dim: int = 128,
               size=32, channels=3):
    super().__init__()
    layers, c = [], channels
    for w in widths:
      for _ in range(2):
        layers += [nn.Conv2d(c, w, 3, padding=1), nn.BatchNorm2d(w, momentum=0.1), nn.ReLU()]
        c = w
      layers.append(nn.MaxPool2d(2))
    self.body = nn.Sequential(*layers)
    self.features = nn.Linear(c * (size // 8) ** 2, feature_dim)
    self.classifier = nn.Linear(feature_dim, num_classes)

  def forward(self, x):
    f = torch.sigmoid(self.features(self.body(x).flatten(1)))
    return self.classifier(f), f


def _normalize(d):
  return d / (d.flatten(1).norm(dim=1).view(-1, *([1] * (d.dim() - 1))) + 1e-12)


def _kl(p, logits):
  return (p * (torch.log(p + 1e-12) - F.log_softmax(logits, -1))).sum(-1)


def classifier_step(model, opt, x, y, *, vat=None):
  """One Adam step of cross-entropy, plus VAT's term when ``vat = (beta, xi, radius)``."""
  opt.zero_grad(set_to_none=True)
  logits = model(x)
  loss = F.cross_entropy(logits, y)
  if vat is not None:
    beta, xi, radius = vat
    p = F.softmax(logits, -1).detach()
    d = (xi * _normalize(torch.randn_like(x))).requires_grad_(True)
    g, = torch.autograd.grad(_kl(p, model(x + d)).sum(), d)
    r = radius * _normalize(g)
    loss = loss + beta * _kl(p, model(x + r)).mean()
  loss.backward()
  opt.step()
  return loss


def jumbot_step(model, opt, xs, ys, xt, *, eta1, eta2, tau, epsilon):
  """One JUMBOT step in the reference design: the model in PyTorch, the unbalanced plan by POT
  on the host (``ot.unbalanced.sinkhorn_knopp_unbalanced``), the loss back in PyTorch."""
  import ot  # pylint: disable=g-import-not-at-top
  opt.zero_grad(set_to_none=True)
  ls, fs = model(xs)
  lt, ft = model(xt)
  ce = F.cross_entropy(ls, ys)
  onehot = F.one_hot(ys, ls.shape[1]).float()
  feat_cost = torch.cdist(fs, ft) ** 2
  label_cost = -(onehot @ F.log_softmax(lt, -1).T)
  cost = eta1 * feat_cost + eta2 * label_cost
  a = np.full(len(xs), 1.0 / len(xs))
  b = np.full(len(xt), 1.0 / len(xt))
  plan = ot.unbalanced.sinkhorn_knopp_unbalanced(a, b, cost.detach().double().numpy(), epsilon,
                                                 tau)  # POT's defaults, as the reference code
  loss = ce + (torch.as_tensor(plan, dtype=cost.dtype) * cost).sum()
  loss.backward()
  opt.step()
  return loss
