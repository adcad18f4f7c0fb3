"""ARWGAN configs: ``quick`` (CI) and ``default`` (larger)."""
