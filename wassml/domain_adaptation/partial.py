"""Partial-DA diagnostics: how much transport mass each source class receives."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


def plan_mass_per_class(plan: ArrayLike, labels_s: ArrayLike, num_classes: int) -> jax.Array:
  """Mass that a minibatch plan moves out of each source class.

  With a balanced plan every class keeps exactly its share of the source marginal (1/K for
  class-balanced batches); an unbalanced (JUMBOT) plan can down-weight source classes that are
  absent from the target, which is what makes it suitable for partial DA.

  Args:
    plan: [n, m] transport plan between a source and a target minibatch.
    labels_s: [n] int source labels.
    num_classes: K.

  Returns:
    [K] row-sums of the plan grouped by source class.
  """
  row_mass = jnp.sum(jnp.asarray(plan), axis=1)
  return jax.ops.segment_sum(row_mass, jnp.asarray(labels_s), num_segments=num_classes)


def missing_class_mass_ratio(
    mass_per_class: ArrayLike, present: ArrayLike) -> jax.Array:
  """Mean mass per missing source class divided by the mean mass per present class.

  1 means no down-weighting (balanced OT with class-balanced batches); 0 means the missing
  classes are ignored entirely.

  Args:
    mass_per_class: [K] from :func:`plan_mass_per_class`.
    present: [K] bool, which classes the target domain holds.

  Returns:
    Scalar ratio.
  """
  mass = jnp.asarray(mass_per_class)
  present = jnp.asarray(present, bool)
  mean_missing = jnp.sum(jnp.where(present, 0.0, mass)) / jnp.maximum(jnp.sum(~present), 1)
  mean_present = jnp.sum(jnp.where(present, mass, 0.0)) / jnp.maximum(jnp.sum(present), 1)
  return mean_missing / mean_present
