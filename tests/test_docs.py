"""Documentation: doctests of the public OT functions, the API docs build, the results page."""

import doctest
import importlib
import pathlib
import subprocess
import sys

import pytest

from wassml import results_page

ROOT = pathlib.Path(__file__).resolve().parent.parent
OT_MODULES = ["exact", "sinkhorn", "unbalanced", "minibatch", "label", "divergence", "partial",
              "one_dim", "barycenters", "online"]


@pytest.mark.parametrize("name", OT_MODULES)
def test_ot_doctests(name):
  module = importlib.import_module(f"wassml.ot.{name}")
  result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0, f"wassml.ot.{name} has no doctested example"
  assert result.failed == 0


def test_api_docs_build(tmp_path):
  """``pdoc`` renders the whole package from its docstrings (``make docs``)."""
  proc = subprocess.run([sys.executable, "-m", "pdoc", "-o", str(tmp_path), "wassml"],
                        capture_output=True, text=True, cwd=ROOT, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  for page in ("wassml.html", "wassml/ot.html", "wassml/train.html", "wassml/data.html"):
    assert (tmp_path / page).exists(), page


def test_results_page_is_up_to_date():
  page = ROOT / "docs" / "results.md"
  assert page.read_text() == results_page.collect(), (
      "docs/results.md is stale: run `.venv/bin/wassml results-page`")
