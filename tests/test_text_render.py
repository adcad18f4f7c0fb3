"""HTML and PNG rendering of saliency beside z-scores."""

import numpy as np
import pytest

from wassml.text import PAD, SaliencyExample, render_html, render_png


def _example():
  toks = ["the", "<b>", "film", "&", "i", PAD, PAD]
  return SaliencyExample(toks, np.array([0.5, -1.0, 2.0, 0.0, 0.1, 9.0, 9.0]),
                         np.array([1.0, 0.0, -3.0, 0.2, 0.0, 0.0, 0.0]), title="true: pos",
                         note="pearson r = -0.9")


def test_render_html(tmp_path):
  page = render_html([_example()], tmp_path / "p.html")
  assert (tmp_path / "p.html").read_text(encoding="utf-8") == page
  assert "&lt;b&gt;" in page and "<b>" not in page.split("</h1>")[1]  # escaped
  assert page.count('class="w"') == 10  # 5 visible words x (saliency, z-score); no padding
  assert "Text Deconvolution Saliency" in page and "z-score" in page
  assert 'title="+2.000"' in page


def test_render_png(tmp_path):
  render_png(_example(), tmp_path / "p.png")
  data = (tmp_path / "p.png").read_bytes()
  assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_render_bad_input():
  with pytest.raises(ValueError, match="3 tokens but 2 saliency"):
    SaliencyExample(["a", "b", "c"], np.zeros(2), np.zeros(3))
  with pytest.raises(ValueError, match="finite"):
    SaliencyExample(["a"], np.array([np.nan]), np.zeros(1))
  with pytest.raises(ValueError, match="at least one"):
    render_html([])
