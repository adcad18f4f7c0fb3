"""wassml: optimal-transport machine learning in JAX/Flax.

Sub-packages are imported lazily (``wassml.ot``, ``wassml.data`` ...), so ``import wassml`` is cheap
and one family's optional pieces never slow down another's import.
"""

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "ot",
    "metrics",
    "data",
    "nn",
    "train",
    "clustering",
    "regularization",
    "domain_adaptation",
    "active_learning",
    "embedding",
    "text",
    "generative",
    "utils",
)


def __getattr__(name: str) -> Any:
  if name in _SUBMODULES:
    return importlib.import_module(f"wassml.{name}")
  raise AttributeError(f"module 'wassml' has no attribute {name!r}")


def __dir__() -> list[str]:
  return sorted(list(globals()) + list(_SUBMODULES))
