"""Every colab is paired (jupytext .py <-> .ipynb) and executes on the CPU."""

import os
import pathlib

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "colabs").glob("*.ipynb"))


def test_every_family_has_a_notebook():
  names = {p.stem for p in NOTEBOOKS}
  assert {"ot_core", "clustering", "noisy_labels", "domain_adaptation", "active_learning", "dwe",
          "generative", "text_saliency"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_paired_with_its_script(path):
  script = jupytext.read(path.with_suffix(".py"))
  notebook = nbformat.read(path, as_version=4)
  assert [c.source for c in script.cells] == [c.source for c in notebook.cells], (
      f"{path.name} and its .py differ: run `.venv/bin/jupytext --sync {path}`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path):
  notebook = nbformat.read(path, as_version=4)
  os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
  client = NotebookClient(notebook, timeout=900, kernel_name="python3",
                          resources={"metadata": {"path": str(ROOT)}})
  client.execute()
  errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.get("output_type") == "error"]
  assert not errors
  nbformat.write(notebook, tmp_path / path.name)  # the executed copy, for inspection
