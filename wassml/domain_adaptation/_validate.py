"""Eager input checks of the domain-adaptation family (skipped on tracers)."""

from __future__ import annotations

from typing import Any

import numpy as np

from wassml.utils import checks as uc


def _is_concrete(x: Any) -> bool:
  return not uc.is_tracer(x)


def check_positive(name: str, value: Any) -> None:
  """Raises ValueError unless ``value`` is a finite number > 0 (skipped on tracers)."""
  if value is not None:
    uc.check_positive_scalar(value, name)


def check_domain_shapes(x_s: Any, x_t: Any) -> None:
  """Raises ValueError when source and target examples have different feature shapes."""
  s, t = tuple(np.shape(x_s))[1:], tuple(np.shape(x_t))[1:]
  if s != t:
    raise ValueError(
        f"source and target examples must have the same feature shape; got source {s} "
        f"(batch shape {tuple(np.shape(x_s))}) and target {t} (batch shape {tuple(np.shape(x_t))}).")


def check_labels(labels: Any, num_classes: int, what: str = "source labels") -> None:
  """Raises ValueError when integer labels fall outside ``[0, num_classes)``."""
  if np.ndim(labels) != 1:
    raise ValueError(f"{what} must be a 1-D integer array [n], got shape {np.shape(labels)}.")
  if not _is_concrete(labels):
    return
  lab = np.asarray(labels)
  if lab.size == 0:
    return
  if not np.issubdtype(lab.dtype, np.integer):
    raise TypeError(f"{what} must be integers, got dtype {lab.dtype}.")
  lo, hi = int(lab.min()), int(lab.max())
  if lo < 0 or hi >= num_classes:
    raise ValueError(
        f"class count mismatch: {what} span [{lo}, {hi}] but the classifier has "
        f"{num_classes} outputs (labels must lie in [0, {num_classes})).")


def check_joint_inputs(features_s: Any, labels_s: Any, features_t: Any, logits_t: Any) -> None:
  """Shape checks of the joint cost (all static, so they also run under jit)."""
  fs, ft, lt = np.shape(features_s), np.shape(features_t), np.shape(logits_t)
  if len(fs) != 2 or len(ft) != 2:
    raise ValueError(f"features must be [n, d] and [m, d]; got {fs} and {ft}.")
  if fs[1] != ft[1]:
    raise ValueError(f"source and target embeddings have different widths: {fs} vs {ft}.")
  if len(lt) != 2 or lt[0] != ft[0]:
    raise ValueError(f"target logits must be [m, K] with m = {ft[0]}; got {lt}.")
  if np.shape(labels_s) != (fs[0],):
    raise ValueError(f"source labels must be [n] with n = {fs[0]}; got {np.shape(labels_s)}.")
  check_labels(labels_s, lt[1])
