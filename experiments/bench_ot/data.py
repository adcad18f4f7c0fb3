"""Benchmark problems."""


def make_costs(seed: int, num_batches: int, n: int, d: int):
  """``[B, n, n]`` float64 costs between class-clustered features, max-normalised."""
  import numpy as np

  rng = np.random.default_rng(seed)
  means = rng.normal(size=(10, d))
  costs = []
  for _ in range(num_batches):
    xs = means[rng.integers(0, 10, n)] + 0.7 * rng.normal(size=(n, d))
    xt = means[rng.integers(0, 10, n)] + 0.7 * rng.normal(size=(n, d)) + 0.3
    c = (np.sum(xs**2, 1)[:, None] + np.sum(xt**2, 1)[None, :] - 2 * xs @ xt.T)
    c = np.maximum(c, 0.0)
    costs.append(c / c.max())
  return np.stack(costs)
