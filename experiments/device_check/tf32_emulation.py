r"""VAT's power step under an emulated TF32 network, on the CPU.

The MLP of ``tests/test_regularization.py`` (784 'pixels' in [0.5, 1]); TF32 is emulated by
rounding every product's operands to a 10-bit mantissa with a straight-through gradient. Prints the
cosine between the power step's direction and the exact ``H d`` (forward-over-reverse) when
everything is rounded, when only the direction's target ``softmax(f(x))`` is, and when nothing
is: the reason ``wassml.regularization.adversarial`` runs the power iteration at full precision on
accelerators and recomputes its target there.

Usage:
  PYTHONPATH=. python -m experiments.device_check.tf32_emulation
"""

import jax
import jax.numpy as jnp
import numpy as np

from wassml import regularization as reg


def tf32(a: jax.Array) -> jax.Array:
  """Rounds float32 to TF32's 10-bit mantissa (round half up on the magnitude bits)."""
  b = jax.lax.bitcast_convert_type(a.astype(jnp.float32), jnp.uint32)
  b = (b + jnp.uint32(0x1000)) & jnp.uint32(0xFFFFE000)
  return jax.lax.bitcast_convert_type(b, jnp.float32)


def straight_through(a: jax.Array) -> jax.Array:
  return a + jax.lax.stop_gradient(tf32(a) - a)


def main() -> None:
  k1, k2, k3, k4 = jax.random.split(jax.random.key(11), 4)
  w1 = jax.random.normal(k1, (784, 32)) / np.sqrt(784) * 3
  w2 = jax.random.normal(k2, (32, 10)) * 2 / np.sqrt(32)
  st = straight_through
  exact = lambda x: jnp.tanh(x @ w1) @ w2  # noqa: E731
  rounded = lambda x: st(jnp.tanh(st(st(x) @ st(w1)))) @ st(w2)  # noqa: E731
  x = jax.random.uniform(k3, (32, 784), minval=0.5, maxval=1.0)
  d0 = reg.l2_normalize(jax.random.normal(k4, x.shape))
  p = jax.nn.softmax(exact(x))
  obj = lambda r: jnp.sum(reg.kl_divergence(p, exact(x + r)))  # noqa: E731
  ref = np.asarray(reg.l2_normalize(jax.jvp(jax.grad(obj), (jnp.zeros_like(x),), (d0,))[1]))
  cases = {
      "everything rounded": (jax.nn.softmax(rounded(x)), rounded),
      "only the target rounded": (jax.nn.softmax(rounded(x)), exact),
      "nothing rounded": (p, exact),
  }
  print(f"{'case':26s} {'xi':>6s} {'min cos':>8s} {'mean cos':>9s}")
  for name, (target, f) in cases.items():
    for xi in (1e-2, 1e-1):
      r = reg.adversarial_direction(k4, f, x, target, reg.kl_divergence, xi=xi, num_iters=1,
                                    radius=1.0, precision=None)
      cos = np.sum(np.asarray(r) * ref, axis=1)
      print(f"{name:26s} {xi:6g} {cos.min():8.3f} {cos.mean():9.3f}")


if __name__ == "__main__":
  main()
