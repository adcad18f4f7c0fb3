"""Float64 for a test, through the global flag."""

import contextlib

import jax
import pytest


@contextlib.contextmanager
def x64_mode():
  """Float64 on, through the global flag and not the ``jax.enable_x64`` context manager: that
  context is thread-local, and ``ot.emd``'s host path runs its ``pure_callback`` on an XLA thread
  where x64 would then be off; jax canonicalises the callback's float64 result to float32 and
  rejects it ("Incorrect output dtype ... Expected: float64, Actual: float32"; seen in CI whenever
  the callback ran off the main thread)."""
  prev = jax.config.jax_enable_x64
  jax.config.update("jax_enable_x64", True)
  try:
    yield
  finally:
    jax.config.update("jax_enable_x64", prev)


@pytest.fixture
def x64():
  with x64_mode():
    yield
