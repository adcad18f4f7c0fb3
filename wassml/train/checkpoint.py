"""Orbax checkpoints that resume a killed run and refuse to clobber a bad checkpoint."""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
  """A checkpoint is missing, corrupt, or incompatible with the state it is restored into."""


def _signature(tree: Any) -> tuple:
  leaves, treedef = jax.tree_util.tree_flatten(tree)
  return treedef, [(tuple(np.shape(x)), np.result_type(getattr(x, "dtype", x))) for x in leaves]


class Checkpointer:
  """Saves and restores pytrees (e.g. a :class:`TrainState`) under ``<workdir>/checkpoints/<step>``.

  Saves are synchronous and atomic (Orbax writes a temporary folder and renames it), so a run
  killed at any time leaves only complete checkpoints. A step that already exists is never
  overwritten, and a checkpoint that cannot be read into the given target raises
  :class:`CheckpointError` and is left untouched.

  Args:
    workdir: run folder.
    max_to_keep: number of most recent checkpoints kept (None keeps all).
    subdir: folder name under ``workdir``.
  """

  def __init__(self, workdir: str | pathlib.Path, *, max_to_keep: int | None = 3,
               subdir: str = "checkpoints"):
    self.directory = pathlib.Path(workdir).absolute() / subdir
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                           enable_async_checkpointing=False)
    try:
      self._manager = ocp.CheckpointManager(self.directory, options=options)
    except Exception as e:  # pylint: disable=broad-except
      raise CheckpointError(f"Cannot open the checkpoint folder {self.directory}: {e}") from e

  def all_steps(self) -> list[int]:
    """Steps with a complete checkpoint, ascending."""
    self._manager.reload()
    return sorted(self._manager.all_steps())

  def latest_step(self) -> int | None:
    """The most recent step, or None."""
    steps = self.all_steps()
    return steps[-1] if steps else None

  def save(self, step: int, tree: Any, *, metadata: dict | None = None) -> pathlib.Path:
    """Saves ``tree`` (and a JSON-able ``metadata`` dict, e.g. loop state) as checkpoint ``step``.

    Raises:
      CheckpointError: a checkpoint for ``step`` already exists (it is not overwritten).
    """
    step = int(step)
    if step in self.all_steps():
      raise CheckpointError(f"Checkpoint {self.directory / str(step)} already exists; refusing to "
                            "overwrite it. Use a new workdir or delete it deliberately.")
    args = ocp.args.Composite(state=ocp.args.StandardSave(tree),
                              meta=ocp.args.JsonSave(dict(metadata or {})))
    self._manager.save(step, args=args, force=True)
    self._manager.wait_until_finished()
    return self.directory / str(step)

  def restore_metadata(self, step: int | None = None) -> dict:
    """The metadata dict saved with checkpoint ``step`` (default: latest); ``{}`` if none."""
    step = self.latest_step() if step is None else step
    if step is None:
      return {}
    try:
      out = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
      return dict(out["meta"] or {})
    except Exception as e:  # pylint: disable=broad-except
      raise CheckpointError(f"Metadata of checkpoint {self.directory / str(step)} is corrupt or "
                            f"missing ({type(e).__name__}: {str(e)[:200]}). It was left "
                            "untouched.") from e

  def restore(self, target: Any, step: int | None = None) -> Any:
    """Restores checkpoint ``step`` (default: latest) into the structure of ``target``.

    Raises:
      CheckpointError: no checkpoint, or it is corrupt, or its tree structure / shapes / dtypes
        differ from ``target`` (e.g. another model or optimiser). Nothing is deleted.
    """
    steps = self.all_steps()
    if step is None:
      if not steps:
        raise CheckpointError(f"No checkpoint in {self.directory}.")
      step = steps[-1]
    path = self.directory / str(step)
    if step not in steps:
      raise CheckpointError(f"No checkpoint for step {step} in {self.directory} (have {steps}).")
    abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, target)
    try:
      restored = self._manager.restore(
          step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract)))["state"]
    except Exception as e:  # pylint: disable=broad-except
      raise CheckpointError(
          f"Checkpoint {path} is corrupt or incompatible with the state being restored "
          f"({type(e).__name__}: {str(e)[:300]}). It was left untouched; delete it or use a new "
          "workdir.") from e
    want, got = _signature(target), _signature(restored)
    if want != got:
      raise CheckpointError(
          f"Checkpoint {path} is incompatible with the state being restored (tree structure, "
          "shapes or dtypes differ: another model or optimiser?). It was left untouched; delete "
          "it or use a new workdir.")
    # Orbax returns the target's pytree types; keep the target's static fields (apply_fn, tx).
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(target),
                                        jax.tree_util.tree_leaves(restored))

  def restore_or_init(self, target: Any) -> tuple[Any, int]:
    """Returns ``(latest checkpoint restored into target, its step)`` or ``(target, 0)``."""
    step = self.latest_step()
    if step is None:
      return target, 0
    return self.restore(target, step), step

  def close(self) -> None:
    """Releases Orbax's resources (also done by ``with Checkpointer(...) as ck:``)."""
    self._manager.close()

  def __enter__(self) -> "Checkpointer":
    return self

  def __exit__(self, *exc) -> None:
    self.close()
