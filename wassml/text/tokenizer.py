"""A small multilingual word tokenizer that keeps punctuation (thesis ch. 12, A.2.5).

Words are maximal runs of Unicode letters/digits (with inner apostrophes or hyphens, so
``don't`` and ``well-known`` stay one token); every other visible character (punctuation,
symbols) is a token of its own. Text is NFKC-normalised and lower-cased by default, as in the
thesis's "home-made tokenizer" that worked on English, French and Latin alike.

Unknown characters are the ones no text should hold: control, format, private-use, surrogate
and unassigned code points (Unicode categories ``Cc``, ``Cf``, ``Co``, ``Cs``, ``Cn``) other than
whitespace. What happens to them is explicit (``unknown_chars``): ``"replace"`` (the default)
turns each run of them into the :data:`UNK` token, ``"drop"`` removes them and ``"strict"``
raises a ``ValueError`` naming the character and its position.
"""

from __future__ import annotations

import re
import unicodedata

PAD = "<pad>"
"""Padding token: windows shorter than the window length are filled with it (id 0)."""
UNK = "<unk>"
"""Unknown token: out-of-vocabulary words and unknown characters (id 1)."""

_UNKNOWN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})
_UNK_MARK = "\uE000"  # private-use placeholder, never produced by NFKC from real text
_TOKEN_RE = re.compile(
    r"\uE000+|[^\W_](?:[^\W_]|['’\-](?=[^\W_]))*|[^\s\w]|_", re.UNICODE)
_UNKNOWN_MODES = ("replace", "drop", "strict")


def _is_unknown(ch: str) -> bool:
  return (not ch.isspace()) and unicodedata.category(ch) in _UNKNOWN_CATEGORIES


def tokenize(text: str, *, lowercase: bool = True,
             unknown_chars: str = "replace") -> list[str]:
  """Splits a text into word and punctuation tokens.

  Args:
    text: the text (``str``; ``bytes`` are decoded as UTF-8).
    lowercase: lower-case the tokens (default ``True``).
    unknown_chars: ``"replace"`` (each run of unknown characters becomes :data:`UNK`),
      ``"drop"`` or ``"strict"`` (raise ``ValueError``).

  Returns:
    The tokens, in order. An empty or all-blank text gives ``[]``.

  Raises:
    TypeError: ``text`` is not a string.
    ValueError: unknown ``unknown_chars`` mode, or an unknown character in strict mode.
  """
  if isinstance(text, bytes):
    text = text.decode("utf-8", errors="replace")
  if not isinstance(text, str):
    raise TypeError(f"tokenize expects a str, got {type(text).__name__}")
  if unknown_chars not in _UNKNOWN_MODES:
    raise ValueError(
        f"unknown_chars={unknown_chars!r}; valid modes are {list(_UNKNOWN_MODES)}")
  # Unknown characters are judged on the raw text: NFKC would silently rewrite some.
  chars = []
  for i, ch in enumerate(text):
    if ch == _UNK_MARK or _is_unknown(ch):
      if unknown_chars == "strict":
        raise ValueError(
            f"text holds an unknown character U+{ord(ch):04X} "
            f"({unicodedata.name(ch, 'unnamed')}) at position {i}; pass "
            f"unknown_chars='replace' to map such characters to {UNK!r} or 'drop' to remove them")
      if unknown_chars == "replace":
        chars.append(_UNK_MARK)
      else:
        chars.append(" ")
    else:
      chars.append(ch)
  text = unicodedata.normalize("NFKC", "".join(chars))
  tokens = []
  for tok in _TOKEN_RE.findall(text):
    if tok[0] == _UNK_MARK:
      tokens.append(UNK)
    else:
      tokens.append(tok.lower() if lowercase else tok)
  return tokens


def detokenize(tokens: list[str]) -> str:
  """Joins tokens with spaces, dropping padding (for display only)."""
  return " ".join(t for t in tokens if t != PAD)
