"""ROUGE-N and ROUGE-L (Lin 2004, "ROUGE: A Package for Automatic Evaluation of
Summaries"), one candidate against one reference.

Tokens: the text is lower-cased; each run of Latin letters and digits (`a-z0-9`) is a
token, everything else separates them, and each CJK ideograph is a token of its own (so
Chinese is scored per character). No stemming and no stop-word removal: on English this
equals Google's `rouge-score` package with `use_stemmer=False`, which drops CJK text.

- ROUGE-N: the clipped overlap of n-grams (an n-gram counts at most as often as it occurs
  in the other text); recall divides it by the reference's n-grams, precision by the
  candidate's.
- ROUGE-L: the longest common subsequence (LCS) of the two token sequences; recall =
  LCS / reference length, precision = LCS / candidate length, F with beta = 1.
"""

from __future__ import annotations

import collections
import re

from tfbert.tokenization.cjk import CJK_CLASS

# Lower-cased Latin/digit runs, or one CJK ideograph (BERT's CJK ranges).
_TOKEN = re.compile(f"[a-z0-9]+|[{CJK_CLASS}]")


def rouge_tokens(text: str) -> list[str]:
    """The tokens ROUGE compares: `"Police killed 2 人"` -> `["police", "killed", "2", "人"]`."""
    return _TOKEN.findall(text.lower())


def _score(overlap: int, reference: int, candidate: int) -> dict:
    """Recall, precision and F1 (beta = 1) of `overlap` units; 0 where a side is empty."""
    recall = overlap / reference if reference else 0.0
    precision = overlap / candidate if candidate else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _ngrams(tokens: list, n: int) -> collections.Counter:
    return collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def rouge_n(candidate: str, reference: str, n: int = 1) -> dict:
    """ROUGE-N of `candidate` against `reference`: `{"precision", "recall", "f1"}`."""
    if n < 1:
        raise ValueError(f"n must be at least 1. Received: n={n}")
    ours, theirs = _ngrams(rouge_tokens(candidate), n), _ngrams(rouge_tokens(reference), n)
    overlap = sum((ours & theirs).values())  # clipped: min of the two counts
    return _score(overlap, sum(theirs.values()), sum(ours.values()))


def lcs_length(a: list, b: list) -> int:
    """Length of the longest common subsequence of `a` and `b` (O(len(a) * len(b)) time,
    O(len(b)) memory)."""
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0  # row[j - 1] of the previous row
        for j, y in enumerate(b, 1):
            diagonal, row[j] = row[j], (diagonal + 1 if x == y else max(row[j], row[j - 1]))
    return row[-1]


def rouge_l(candidate: str, reference: str) -> dict:
    """ROUGE-L (sentence level) of `candidate` against `reference`."""
    ours, theirs = rouge_tokens(candidate), rouge_tokens(reference)
    return _score(lcs_length(ours, theirs), len(theirs), len(ours))


def rouge(candidate: str, reference: str) -> dict:
    """`{"rouge1", "rouge2", "rougeL"}`, each `{"precision", "recall", "f1"}`.

    Example:
    >>> rouge("police kill the gunman", "police killed the gunman")["rougeL"]["recall"]
    0.75
    """
    return {"rouge1": rouge_n(candidate, reference, 1), "rouge2": rouge_n(candidate, reference, 2),
            "rougeL": rouge_l(candidate, reference)}
