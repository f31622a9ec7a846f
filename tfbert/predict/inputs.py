"""The records `tfbert predict --input FILE` reads, one at a time.

`.txt`: one text per line, every line a record (a blank line too, so that output line i
answers input line i); `.jsonl`: one JSON object per non-blank line; `.csv`/`.tsv`: one row
per record after the header. Nothing is held but the record being read, so a file of any
size reads in bounded memory. Bad input is a one-line `ValueError` naming the file and line.
"""

from __future__ import annotations

import os

from tfbert import textfile
from tfbert.data.readers import records as table_records, table_format

# The keys a record's text lives in, per task; a record whose text is blank gets no answer.
TEXT_KEYS = {"qa": ("question", "context")}


def check_format(path, task) -> str:
    """`"txt"`, `"jsonl"`, `"csv"` or `"tsv"` for `path`; anything else (or `.txt` for a qa
    or pair model, which needs two texts per record) is a one-line error saying what is
    read."""
    path = os.fspath(path)
    fmt = table_format(path)
    if fmt is not None:
        return fmt
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    two = {"qa": "question and context", "pair": "text and pair"}.get(task)
    if extension == "txt" and two is None:
        return "txt"
    raise ValueError(f"{path}: " + ("a .txt file holds one text per line" if extension == "txt"
                                    else f"unknown format {extension!r}")
                     + "; expected .jsonl, .csv, .tsv"
                     + (f" with {two} columns" if two else " or .txt (one text per line)"))


def input_records(path, task, text_column="text", pair_column="pair"):
    """Yields `(line number, record dict)` from `path` lazily. A qa record needs string
    `question` and `context` columns, a pair record `text_column` and `pair_column`, any
    other `text_column`; the row's columns are kept, with the text copied to `text` (and
    the pair, where the row has one, to `pair`)."""
    path = os.fspath(path)
    fmt = check_format(path, task)
    if fmt == "txt":
        yield from _lines(path)
        return
    for number, row in table_records(path, fmt):
        yield number, row_record(row, path, number, task, text_column, pair_column)


def row_record(row: dict, path, number, task, text_column="text", pair_column="pair") -> dict:
    """The record of one table row (a JSON object, a CSV row), checked: qa needs string
    `question` and `context`, pair `text_column` and `pair_column`, any other task
    `text_column`; the row's columns are kept, the text copied to `text` (and the pair,
    where the row has one, to `pair`)."""
    wanted = {"qa": ("question", "context"), "pair": (text_column, pair_column)}.get(
        task, (text_column,))
    hint = "" if task == "qa" else "; choose it with --text-column" + (
        "/--pair-column" if task == "pair" else "")
    for column in wanted:
        if column not in row:
            raise ValueError(f"{path}: line {number}: no text column {column!r}; the row "
                             f"has {sorted(row)[:8]}{hint}")
        if not isinstance(row[column], str):
            raise ValueError(f"{path}: line {number}: column {column!r} must be a "
                             f"string, got {type(row[column]).__name__}")
    if task != "qa":
        row = {**row, "text": row[text_column]}
        if isinstance(row.get(pair_column), str):
            row["pair"] = row[pair_column]
    return row


def _lines(path):
    for number, line in enumerate(textfile.lines(path), 1):
        # A NUL is valid UTF-8 but no text has one: a binary file, or UTF-16 text.
        if "\x00" in line:
            raise ValueError(f"{path}: line {number}: a NUL byte; expected UTF-8 text, one "
                             "text per line (a binary file? UTF-16 text: re-save it as UTF-8)")
        yield number, {"text": line.rstrip("\n").rstrip("\r")}


def is_blank(record, task) -> bool:
    """Whether a record has nothing to predict on: its text (qa: question or context) is
    empty or only white space."""
    return any(not record.get(key, "").strip() for key in TEXT_KEYS.get(task, ("text",)))
