"""Uncertainty / feature-importance configs: ``quick`` (CI) and ``default``."""
