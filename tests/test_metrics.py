"""Metrics against scikit-learn and brute force."""

import itertools

import numpy as np
import pytest
from sklearn import metrics as skm

from wassml import metrics


def _brute_force_accuracy(y, p, k):
  best = 0.0
  for perm in itertools.permutations(range(k)):
    best = max(best, np.mean(np.array(perm)[p] == y))
  return best


@pytest.mark.parametrize("seed", range(5))
def test_cluster_accuracy_matches_brute_force(seed):
  rng = np.random.default_rng(seed)
  y = rng.integers(0, 4, size=57)
  p = np.where(rng.random(57) < 0.6, (y + 1) % 4, rng.integers(0, 4, size=57))
  assert metrics.cluster_accuracy(y, p) == pytest.approx(_brute_force_accuracy(y, p, 4))


def test_cluster_accuracy_permutation_invariant():
  y = np.array([0, 0, 1, 1, 2, 2])
  assert metrics.cluster_accuracy(y, np.array([2, 2, 0, 0, 1, 1])) == 1.0
  assert metrics.cluster_accuracy(y, np.zeros(6, int)) == pytest.approx(1 / 3)


@pytest.mark.parametrize("seed", range(3))
def test_nmi_ari_match_sklearn(seed):
  rng = np.random.default_rng(seed)
  y = rng.integers(0, 5, size=200)
  p = np.where(rng.random(200) < 0.5, y, rng.integers(0, 7, size=200))
  assert metrics.nmi(y, p) == pytest.approx(skm.normalized_mutual_info_score(y, p), abs=1e-10)
  assert metrics.ari(y, p) == pytest.approx(skm.adjusted_rand_score(y, p), abs=1e-10)


def test_accuracy_from_logits():
  y = np.array([0, 1, 2])
  logits = np.eye(3)[[0, 1, 0]]
  assert metrics.accuracy(y, logits) == pytest.approx(2 / 3)


def test_bad_input():
  with pytest.raises(ValueError, match="same shape"):
    metrics.cluster_accuracy([0, 1], [0, 1, 1])
  with pytest.raises(ValueError, match="integer"):
    metrics.nmi([0.5, 1.0], [0, 1])
  with pytest.raises(ValueError, match="non-negative"):
    metrics.ari([-1, 0], [0, 1])
