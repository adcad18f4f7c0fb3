"""Sinkhorn divergences: the balanced one's output contract and the unbalanced one of
Séjourné et al. (2019) against an independent float64 POT computation."""

import jax
import jax.numpy as jnp
import numpy as np
import ot  # POT: independent reference only.
import pytest

import wassml.ot as wot

# Tight solves, so the float64 comparisons test the formula rather than the stopping rule.
TIGHT = dict(num_iters=20000, tol=1e-12)


def _problem(seed, n=7, m=9, masses=(1.0, 1.0)):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, 2))
  y = rng.normal(size=(m, 2)) + rng.normal(size=2)
  a = rng.random(n) + 0.1
  b = rng.random(m) + 0.1
  return x, y, masses[0] * a / a.sum(), masses[1] * b / b.sum()


def _gkl(p, q):
  """Generalized KL ``sum p log(p/q) - p + q`` with ``0 log 0 = 0``."""
  p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
  pos = p > 0
  return float(np.sum(p[pos] * np.log(p[pos] / q[pos])) - p.sum() + q.sum())


def _pot_uot_objective(c, a, b, eps, rho):
  """The full KL-reference UOT objective, from POT's plan, in numpy float64."""
  P = ot.unbalanced.sinkhorn_knopp_unbalanced(a, b, c, eps, rho, reg_type="kl",
                                              numItermax=200000, stopThr=1e-14)
  return (float(np.sum(P * c)) + eps * _gkl(P, np.outer(a, b))
          + rho * _gkl(P.sum(1), a) + rho * _gkl(P.sum(0), b))


def _pot_unbalanced_divergence(x, y, a, b, eps, rho):
  xy = _pot_uot_objective(ot.dist(x, y), a, b, eps, rho)
  xx = _pot_uot_objective(ot.dist(x, x), a, a, eps, rho)
  yy = _pot_uot_objective(ot.dist(y, y), b, b, eps, rho)
  return xy - 0.5 * (xx + yy) + 0.5 * eps * (a.sum() - b.sum()) ** 2


@pytest.mark.parametrize("masses,eps,rho", [((1.0, 1.0), 0.5, 1.0), ((0.7, 1.6), 1.0, 0.5),
                                            ((2.0, 0.5), 0.5, 5.0)])
def test_unbalanced_divergence_matches_pot(x64, masses, eps, rho):
  x, y, a, b = _problem(0, masses=masses)
  got = float(wot.unbalanced_sinkhorn_divergence(x, y, a, b, epsilon=eps, rho=rho, **TIGHT))
  want = _pot_unbalanced_divergence(x, y, a, b, eps, rho)
  np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)
  # The cross term alone is POT's objective too (the formula, not only the combination).
  _, out = wot.unbalanced_sinkhorn_divergence(x, y, a, b, epsilon=eps, rho=rho,
                                              return_output=True, **TIGHT)
  np.testing.assert_allclose(float(out.xy.objective),
                             _pot_uot_objective(ot.dist(x, y), a, b, eps, rho), rtol=1e-7)


def test_unbalanced_divergence_vanishes_on_equal_measures(x64):
  x, _, a, _ = _problem(1, masses=(1.7, 1.0))
  s = float(wot.unbalanced_sinkhorn_divergence(x, x, a, a, epsilon=0.5, rho=1.0, **TIGHT))
  assert abs(s) < 1e-10


def test_unbalanced_divergence_is_nonnegative_and_symmetric(x64):
  rng = np.random.default_rng(2)
  for seed in range(6):
    masses = tuple(rng.uniform(0.3, 3.0, size=2))
    eps, rho = float(rng.uniform(0.2, 2.0)), float(rng.uniform(0.1, 10.0))
    x, y, a, b = _problem(10 + seed, masses=masses)
    if seed % 2:  # also close measures, where a wrong mass term would go negative first
      y, b = x + 0.05 * rng.normal(size=x.shape), a * 1.1
    s_xy = float(wot.unbalanced_sinkhorn_divergence(x, y, a, b, epsilon=eps, rho=rho, **TIGHT))
    s_yx = float(wot.unbalanced_sinkhorn_divergence(y, x, b, a, epsilon=eps, rho=rho, **TIGHT))
    assert s_xy >= -1e-10, (seed, s_xy)
    np.testing.assert_allclose(s_xy, s_yx, rtol=1e-9, atol=1e-12)


def test_mass_term_is_needed_for_equal_supports(x64):
  # Same support, same shape, different masses: the three objectives alone combine to a
  # negative number; eps/2 (m(a) - m(b))^2 (Séjourné et al., eq. 15) makes S positive.
  x, _, a, _ = _problem(3)
  s, out = wot.unbalanced_sinkhorn_divergence(x, x, a, 2.0 * a, epsilon=1.0, rho=1.0,
                                              return_output=True, **TIGHT)
  raw = float(out.xy.objective - 0.5 * (out.xx.objective + out.yy.objective))
  np.testing.assert_allclose(float(s) - raw, 0.5 * 1.0 * (a.sum() - 2.0 * a.sum()) ** 2,
                             rtol=1e-12)
  assert raw < 0 < float(s)


def test_unbalanced_divergence_tends_to_balanced(x64):
  x, y, a, b = _problem(4)
  bal = float(wot.sinkhorn_divergence(x, y, a, b, epsilon=0.5, num_iters=20000))
  unb = float(wot.unbalanced_sinkhorn_divergence(x, y, a, b, epsilon=0.5, rho=1e4, **TIGHT))
  np.testing.assert_allclose(unb, bal, rtol=2e-3)
  # Uniform weights (None) too.
  bal = float(wot.sinkhorn_divergence(x, y, epsilon=0.5, num_iters=20000))
  unb = float(wot.unbalanced_sinkhorn_divergence(x, y, epsilon=0.5, rho=1e4, **TIGHT))
  np.testing.assert_allclose(unb, bal, rtol=2e-3)


def test_unbalanced_divergence_gradients_are_finite():
  x, y, a, b = (jnp.asarray(v, jnp.float32) for v in _problem(5, masses=(0.8, 1.3)))
  f = lambda x, y, a, b: wot.unbalanced_sinkhorn_divergence(x, y, a, b, epsilon=0.5, rho=1.0)
  grads = jax.grad(f, argnums=(0, 1, 2, 3))(x, y, a, b)
  for g in grads:
    assert np.all(np.isfinite(np.asarray(g)))
  assert float(jnp.abs(grads[0]).sum()) > 0
  # Under jit, the same value.
  np.testing.assert_allclose(float(jax.jit(f)(x, y, a, b)), float(f(x, y, a, b)), rtol=1e-5)


def test_unbalanced_divergence_fixes_the_convention():
  x, y, a, b = _problem(6)
  with pytest.raises(ValueError, match="convention"):
    wot.unbalanced_sinkhorn_divergence(x, y, a, b, epsilon=0.5, rho=1.0, convention="entropy")


def test_divergence_return_output_contract():
  x, y, a, b = (jnp.asarray(v, jnp.float32) for v in _problem(7))
  for fn, kw in ((wot.sinkhorn_divergence, dict(epsilon=0.5)),
                 (wot.unbalanced_sinkhorn_divergence, dict(epsilon=0.5, rho=1.0))):
    value = fn(x, y, a, b, **kw)
    assert jnp.shape(value) == ()
    value2, out = fn(x, y, a, b, return_output=True, **kw)
    assert isinstance(out, wot.DivergenceOutput)
    assert all(isinstance(r, wot.OTResult) for r in (out.xy, out.xx, out.yy))
    assert out.xy.plan.shape == (7, 9) and out.xx.plan.shape == (7, 7)
    assert out.yy.plan.shape == (9, 9)
    np.testing.assert_allclose(float(value2), float(value), rtol=1e-6)
    # A pytree: it comes out of jit.
    v3, out3 = jax.jit(lambda x, y: fn(x, y, a, b, return_output=True, **kw))(x, y)
    np.testing.assert_allclose(float(v3), float(value), rtol=1e-5)
    assert out3.xy.plan.shape == (7, 9)
