"""Deduplication and fixed train/dev/test splits by a hash of the text."""

from __future__ import annotations

import collections
import dataclasses
import hashlib

SPLITS = ("train", "dev", "test")


def spread(records, count) -> list:
    """`count` of `records` spread evenly over them, in order (all of them when there are
    no more): data files are often sorted by label, and their first N would hold one class
    only (int8 calibration, quick checks, runs on a slice of a split)."""
    records = list(records)
    if len(records) <= count:
        return records
    return [records[i * len(records) // count] for i in range(count)]


def split_of(text: str) -> str:
    """80/10/10 by the MD5 of the UTF-8 text: the same text always lands in one split,
    whatever else the dataset holds."""
    bucket = int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "train" if bucket < 80 else "dev" if bucket < 90 else "test"


@dataclasses.dataclass
class Summary:
    """What a loader kept and dropped, so that nothing is dropped silently."""

    read: int = 0
    empty: int = 0
    duplicates: int = 0
    conflicting: int = 0  # the same text under two labels: all copies dropped
    kept: int = 0

    def to_dict(self):
        return dataclasses.asdict(self)


def deduplicate(examples, summary: Summary):
    """`examples`: iterable of `(text, label)`. Keeps the first copy of each text; drops
    every copy of a text that appears under more than one label."""
    labels = collections.defaultdict(set)
    order = []
    for text, label in examples:
        summary.read += 1
        text = text.strip()
        if not text:
            summary.empty += 1
            continue
        if text in labels:
            summary.duplicates += 1
        else:
            order.append(text)
        labels[text].add(label)
    kept = []
    for text in order:
        if len(labels[text]) > 1:
            summary.conflicting += 1
            continue
        kept.append((text, next(iter(labels[text]))))
    summary.kept = len(kept)
    return kept


def split(examples, key=lambda example: example[0]):
    """`{split: [examples]}` by `split_of(key(example))`, order preserved."""
    out = {name: [] for name in SPLITS}
    for example in examples:
        out[split_of(key(example))].append(example)
    return out
