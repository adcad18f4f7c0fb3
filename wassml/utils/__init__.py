"""Shared utilities for wassml (input checks)."""

from wassml.utils import checks

__all__ = ["checks"]
