"""Pages a person can read: each word coloured by its saliency, beside its z-score colouring.

:func:`render_html` writes one HTML page (several examples, words as coloured ``<span>`` with the
value in a tooltip); :func:`render_png` draws the same for one example with matplotlib (Agg),
plus the two score curves along the text, as the thesis's Figure 12.4. Each score row is
divided by its largest absolute value (the thesis also rescales both to a common range), so red
is the most positive, blue the most negative, white zero; padding is not drawn.
"""

from __future__ import annotations

import dataclasses
import html
import pathlib
from collections.abc import Sequence

import numpy as np

from wassml.text.tokenizer import PAD


@dataclasses.dataclass
class SaliencyExample:
  """One window to show.

  Attributes:
    tokens: the ``L`` tokens (padding included or not; :data:`PAD` is skipped).
    saliency: ``[L]`` Text Deconvolution Saliency.
    zscore: ``[L]`` word z-scores (for the class shown).
    title: a heading (e.g. the true class and the two predictions).
    note: a line under the heading (e.g. the Pearson correlation).
  """
  tokens: Sequence[str]
  saliency: np.ndarray
  zscore: np.ndarray
  title: str = ""
  note: str = ""

  def __post_init__(self):
    self.saliency = np.asarray(self.saliency, np.float64).reshape(-1)
    self.zscore = np.asarray(self.zscore, np.float64).reshape(-1)
    n = len(self.tokens)
    if self.saliency.size != n or self.zscore.size != n:
      raise ValueError(f"{n} tokens but {self.saliency.size} saliency and {self.zscore.size} "
                       "z-score values")
    if not (np.all(np.isfinite(self.saliency)) and np.all(np.isfinite(self.zscore))):
      raise ValueError("saliency and z-scores must be finite (got NaN or inf)")

  def visible(self) -> np.ndarray:
    return np.asarray([t != PAD for t in self.tokens], bool)


def _normalise(v: np.ndarray, keep: np.ndarray) -> np.ndarray:
  m = np.max(np.abs(v[keep])) if keep.any() else 0.0
  return v / m if m > 0 else np.zeros_like(v)


def _colours(v: np.ndarray) -> list[tuple[float, float, float, float]]:
  from matplotlib import colormaps  # pylint: disable=g-import-not-at-top
  cmap = colormaps["RdBu_r"]
  return [cmap(0.5 + 0.5 * float(np.clip(x, -1, 1))) for x in v]


def _hex(c) -> str:
  return "#{:02x}{:02x}{:02x}".format(*(int(round(255 * x)) for x in c[:3]))


def _html_row(tokens, values, keep) -> str:
  norm = _normalise(values, keep)
  spans = []
  for tok, v, n, c, k in zip(tokens, values, norm, _colours(norm), keep):
    if not k:
      continue
    fg = "#ffffff" if abs(n) > 0.6 else "#000000"
    spans.append(f'<span class="w" style="background:{_hex(c)};color:{fg}" '
                 f'title="{v:+.3f}">{html.escape(tok)}</span>')
  return " ".join(spans)


_CSS = """
body{font-family:sans-serif;margin:2em;max-width:1400px}
table{border-collapse:collapse;width:100%;margin-bottom:2em}
td,th{vertical-align:top;border:1px solid #ccc;padding:.6em;width:50%;line-height:1.9}
th{background:#f4f4f4;text-align:left}
.w{padding:.1em .2em;border-radius:3px;font-family:monospace}
h2{font-size:1.05em;margin-bottom:.2em} .note{color:#555;margin:.2em 0 .6em}
"""


def render_html(examples: Sequence[SaliencyExample], path: str | pathlib.Path | None = None,
                *, title: str = "Text Deconvolution Saliency vs z-score") -> str:
  """An HTML page of examples, saliency colouring (left) beside z-score colouring (right).

  Args:
    examples: the windows to show.
    path: where to write the page (``None``: only return it).
    title: the page title.

  Returns:
    The HTML text.
  """
  if not examples:
    raise ValueError("render_html needs at least one example")
  parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
           f"</title><style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
           "<p>Each word is coloured by its score divided by the row's largest absolute score: "
           "red positive, blue negative, white zero. Hover a word for its value.</p>"]
  for ex in examples:
    keep = ex.visible()
    parts.append(f"<h2>{html.escape(ex.title)}</h2><p class='note'>{html.escape(ex.note)}</p>")
    parts.append("<table><tr><th>Text Deconvolution Saliency (CNN)</th><th>z-score</th></tr>"
                 f"<tr><td>{_html_row(ex.tokens, ex.saliency, keep)}</td>"
                 f"<td>{_html_row(ex.tokens, ex.zscore, keep)}</td></tr></table>")
  parts.append("</body></html>")
  page = "\n".join(parts)
  if path is not None:
    pathlib.Path(path).write_text(page, encoding="utf-8")
  return page


def _draw_words(ax, tokens, values, keep, *, chars_per_line: int, title: str):
  norm = _normalise(values, keep)
  ax.set_axis_off()
  ax.set_title(title, fontsize=10, loc="left")
  x, line, lines = 0, 0, []
  for tok, n, c, k in zip(tokens, norm, _colours(norm), keep):
    if not k:
      continue
    if x + len(tok) > chars_per_line and x > 0:
      x, line = 0, line + 1
    lines.append((x, line, tok, c, n))
    x += len(tok) + 1
  nlines = max(line + 1, 1)
  for x, line, tok, c, n in lines:
    ax.text(x / chars_per_line, 1 - (line + 0.5) / nlines, tok, family="monospace",
            fontsize=8, va="center", ha="left", color="white" if abs(n) > 0.6 else "black",
            bbox=dict(boxstyle="square,pad=0.1", fc=c, ec="none"), transform=ax.transAxes)


def render_png(example: SaliencyExample, path: str | pathlib.Path, *,
               chars_per_line: int = 72, dpi: int = 110) -> None:
  """Draws one example: saliency-coloured text beside z-score-coloured text, and both curves.

  Args:
    example: the window to draw.
    path: the PNG file to write.
    chars_per_line: wrap width of the coloured text.
    dpi: resolution.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  keep = example.visible()
  toks = [t for t, k in zip(example.tokens, keep) if k]
  nchar = sum(len(t) + 1 for t in toks)
  nlines = max(1, -(-nchar // chars_per_line) + 1)
  fig = plt.figure(figsize=(16, 1.2 + 0.32 * nlines + 2.6), dpi=dpi)
  gs = fig.add_gridspec(2, 2, height_ratios=[0.32 * nlines + 0.5, 2.4], hspace=0.35,
                        wspace=0.05)
  _draw_words(fig.add_subplot(gs[0, 0]), example.tokens, example.saliency, keep,
              chars_per_line=chars_per_line, title="Text Deconvolution Saliency (CNN)")
  _draw_words(fig.add_subplot(gs[0, 1]), example.tokens, example.zscore, keep,
              chars_per_line=chars_per_line, title="z-score")
  ax = fig.add_subplot(gs[1, :])
  pos = np.arange(keep.sum())
  ax.plot(pos, _normalise(example.saliency, keep)[keep], "-o", ms=3, label="saliency (scaled)")
  ax.plot(pos, _normalise(example.zscore, keep)[keep], "-s", ms=3, label="z-score (scaled)")
  ax.axhline(0, color="grey", lw=0.5)
  ax.set_xticks(pos)
  ax.set_xticklabels(toks, rotation=90, fontsize=7, family="monospace")
  ax.set_xlim(-0.5, max(len(pos) - 0.5, 0.5))
  ax.set_ylabel("score / max |score|")
  ax.legend(loc="upper right", fontsize=8)
  fig.suptitle(f"{example.title}\n{example.note}", fontsize=10, x=0.01, y=1.03, ha="left")
  fig.savefig(path, bbox_inches="tight")
  plt.close(fig)
