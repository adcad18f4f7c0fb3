"""Configs of the active-learning experiments (quick: CI; mid: committed run; default: paper scale)."""
