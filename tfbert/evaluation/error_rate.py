"""Token error rate (word error rate; character error rate for Chinese): the edit distance
from a hypothesis to its reference over the reference's length, as speech recognition and
text correction report it."""

from __future__ import annotations

import re

from tfbert.tokenization.cjk import CJK_CLASS

# A CJK ideograph is a unit of its own; other text splits at white space and ideographs.
_UNITS = re.compile(f"[{CJK_CLASS}]|[^\\s{CJK_CLASS}]+")


def units(text: str) -> list[str]:
    """The units errors are counted in: each CJK character, each white-space-separated
    word of other scripts (`"我爱 NLP!"` -> `['我', '爱', 'NLP!']`)."""
    return _UNITS.findall(text)


def edit_distance(hypothesis, reference) -> int:
    """Levenshtein distance between two sequences (substitutions, insertions and
    deletions each cost 1)."""
    previous = list(range(len(reference) + 1))
    for i, unit in enumerate(hypothesis, 1):
        current = [i]
        for j, wanted in enumerate(reference, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (unit != wanted)))
        previous = current
    return previous[-1]


def error_rate(hypotheses, references) -> float:
    """Corpus error rate: the summed edit distances over the summed reference lengths, in
    `units` (0.0 for empty references only when every hypothesis is empty too)."""
    errors = sum(edit_distance(units(h), units(r)) for h, r in zip(hypotheses, references))
    length = sum(len(units(r)) for r in references)
    return errors / length if length else float(errors > 0)
