"""Sentence splitting for Chinese and English text, with each sentence's character span.

Pure Python (no TensorFlow), so that command-line tools and the summarizer split text
without loading a model. Rules, in order:

- a newline always ends a sentence; blank lines and surrounding spaces are dropped;
- Chinese (`zh`): a sentence ends after a run of `。！？!?；…`, together with the closing
  quotes and brackets that follow it (`”’」』）)】》`), so `他说：“好。”` stays whole;
- English (`en`): a sentence ends after `.`, `!` or `?` (and closing quotes or brackets)
  followed by whitespace and an upper-case letter, a digit or an opening quote; not after
  a known abbreviation (`Mr.`, `Dr.`, `U.S.`, `e.g.` ...) or a single-letter initial
  (`J. Smith`). So `3.5` (no space) and `Mr. Smith` stay whole; the price is that a
  sentence that really ends in `U.S.` is joined to the next one.

`language=None` detects: text with more CJK characters than Latin words gets the Chinese
rules, anything else the English ones.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tfbert.tokenization.cjk import CJK_CLASS

LANGUAGES = ("zh", "en")


class Sentence(NamedTuple):
    """A sentence and its half-open character span: `text == document[start:end]`."""

    text: str
    start: int
    end: int


_CJK = re.compile(f"[{CJK_CLASS}]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")

_ZH_END = re.compile(r"[。！？!?；…]+[”’」』）)】》]*")
# A terminator run, its closing quotes/brackets, then the whitespace before the next one.
_EN_END = re.compile(r"[.!?]+[\"'”’)\]]*(\s+)")
_EN_OPENERS = "\"'“‘([" + "0123456789"
_ABBREVIATIONS = frozenset("""
    mr mrs ms dr st prof jr sr rev gen col capt lt sgt gov sen rep pres hon mt ft
    co corp inc ltd plc bros dept est no vol fig approx vs etc al
    jan feb mar apr jun jul aug sep sept oct nov dec
    mon tue tues wed thu thur fri sat sun
    """.split())
# Dotted initialisms: U.S, U.K, e.g, i.e, a.m, p.m (the last dot is the terminator).
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")


def detect_language(text: str) -> str:
    """"zh" when `text` holds more CJK characters than Latin words, else "en"."""
    return "zh" if len(_CJK.findall(text)) > len(_LATIN_WORD.findall(text)) else "en"


def split_sentences(text: str, language: str | None = None) -> list[Sentence]:
    """The sentences of `text` in order, each with its span (`text[start:end]`).

    Example:
    >>> [s.text for s in split_sentences("Mr. Smith paid $3.5m. He left.")]
    ['Mr. Smith paid $3.5m.', 'He left.']
    >>> split_sentences("好。很好！")
    [Sentence(text='好。', start=0, end=2), Sentence(text='很好！', start=2, end=5)]
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a string. Received: {type(text).__name__}")
    if language is None:
        language = detect_language(text)
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES} or None. "
                         f"Received: language={language!r}")
    ends = _zh_ends if language == "zh" else _en_ends
    sentences = []
    line_start = 0
    for line in text.split("\n"):
        cuts = [0, *ends(line), len(line)]
        for a, b in zip(cuts, cuts[1:]):
            piece = line[a:b]
            stripped = piece.strip()
            if stripped:
                start = line_start + a + (len(piece) - len(piece.lstrip()))
                sentences.append(Sentence(stripped, start, start + len(stripped)))
        line_start += len(line) + 1
    return sentences


def _zh_ends(line: str) -> list[int]:
    """Offsets in `line` where a Chinese sentence ends."""
    return [m.end() for m in _ZH_END.finditer(line)]


def _en_ends(line: str) -> list[int]:
    """Offsets in `line` where an English sentence ends (before the whitespace)."""
    ends = []
    for m in _EN_END.finditer(line):
        after = m.end()
        if after >= len(line):
            continue
        following = line[after]
        if not (following.isupper() or following in _EN_OPENERS):
            continue
        if line[m.start()] == "." and _abbreviation(line[:m.start()]):
            continue
        ends.append(m.start(1))
    return ends


def _abbreviation(before: str) -> bool:
    """Whether the word that a `.` follows (the end of `before`) is an abbreviation."""
    word = before.split()[-1].lstrip("\"'“‘([") if before.split() else ""
    return (word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())
            or bool(_DOTTED.fullmatch(word)))
