"""Shared utilities for wassml (input checks, full-precision products)."""

from wassml.utils import checks, linalg

__all__ = ["checks", "linalg"]
