"""Readers for fine-tuning data: classification CSV/TSV/JSONL, CoNLL, SQuAD v1.1/v2.

Malformed input raises a `ValueError` naming the file and line (or question id) and what
was expected; rows that are skipped (empty text) are counted in the result's `summary`,
never dropped silently.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os

from tfbert import textfile

# Python's csv refuses fields over 128 KiB; a scraped article can be longer.
_FIELD_LIMIT = 1 << 28


@dataclasses.dataclass
class ReadSummary:
    path: str
    rows: int = 0
    skipped_empty: int = 0
    kept: int = 0

    def __str__(self):
        return (f"{self.path}: {self.rows} rows, {self.kept} kept, "
                f"{self.skipped_empty} skipped (empty text)")


@dataclasses.dataclass(frozen=True)
class TextExample:
    text: str
    label: str | None
    pair: str | None = None
    line: int = 0
    labels: tuple | None = None   # multi-label: the example's labels (maybe none)


# Multi-label CSV/TSV cells hold their labels joined by this (`--label-separator`).
LABEL_SEPARATOR = "|"


def _label_set(value, path, number, column, separator):
    """A multi-label cell as a tuple of distinct label names, in the order given: a JSON list
    of strings or integers, or a string split on `separator` (empty: no labels)."""
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(separator)] if separator else [value]
        value = [part for part in parts if part]
    if not isinstance(value, list) or not all(
            isinstance(x, (str, int)) and not isinstance(x, bool) for x in value):
        raise ValueError(f"{path}: line {number}: column {column!r} must be a list of labels "
                         f"(strings), or a string of labels joined by {separator!r}; got "
                         f"{type(value).__name__}")
    return tuple(dict.fromkeys(str(x) for x in value))


def _rows(path, fmt):
    """Yields `(line number, dict row)` from a JSONL, CSV or TSV file."""
    if fmt == "jsonl":
        for number, line in enumerate(textfile.lines(path), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}: line {number}: invalid JSON ({err.msg}); expected "
                                 "one JSON object per line") from None
            except RecursionError:
                raise ValueError(f"{path}: line {number}: JSON nested too deeply; expected "
                                 "one flat JSON object per line") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}: line {number}: expected a JSON object per line")
            yield number, row
        return
    csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))
    reader = csv.reader(textfile.lines(path), delimiter="\t" if fmt == "tsv" else ",",
                        strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as err:
        raise ValueError(f"{path}: line 1: malformed {fmt.upper()} header ({err})") from None
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValueError(f"{path}: line 1: column {repeated[0]!r} appears more than once in the "
                         "header; expected distinct column names")
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise ValueError(f"{path}: line {reader.line_num}: malformed {fmt.upper()} "
                             f"({err})") from None
        if not values:
            continue
        if len(values) != len(header):
            raise ValueError(f"{path}: line {reader.line_num}: expected {len(header)} "
                             f"columns ({', '.join(header)}), got {len(values)}; quote fields "
                             "that contain the delimiter")
        yield reader.line_num, dict(zip(header, values))


def table_format(path):
    """`"jsonl"`, `"csv"` or `"tsv"` from the file name; `None` for anything else."""
    extension = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    return {"jsonl": "jsonl", "json": "jsonl", "csv": "csv", "tsv": "tsv"}.get(extension)


def records(path, fmt):
    """Yields `(line number, dict row)` from a JSONL, CSV or TSV file."""
    return _rows(os.fspath(path), fmt)


def read_classification(path, text_column="text", label_column="label", pair_column=None,
                        require_labels=True, multi_label=False,
                        label_separator=LABEL_SEPARATOR):
    """Reads `(text, pair, label)` examples from `.jsonl`, `.csv` or `.tsv`.

    Returns `(examples, summary)`. With `require_labels=False` (prediction input) the
    label column may be absent. With `multi_label` each example's `labels` is a set of
    label names (maybe empty): a JSON list, or a CSV/TSV cell of names joined by
    `label_separator`.
    """
    summary = ReadSummary(os.fspath(path))
    examples = list(iter_classification(path, text_column, label_column, pair_column,
                                        require_labels, multi_label, label_separator, summary))
    if not examples:
        raise ValueError(f"{summary.path}: no examples ({summary})")
    return examples, summary


def iter_classification(path, text_column="text", label_column="label", pair_column=None,
                        require_labels=True, multi_label=False,
                        label_separator=LABEL_SEPARATOR, summary=None):
    """`read_classification`, streaming: yields the examples one by one (memory bounded by
    a row, for files larger than memory) and counts them in `summary` (a `ReadSummary`)
    as it goes; an empty file yields nothing."""
    path = os.fspath(path)
    fmt = table_format(path)
    if fmt is None:
        extension = os.path.splitext(path)[1].lower().lstrip(".")
        raise ValueError(f"{path}: unknown format {extension!r}; expected .jsonl, .csv or .tsv")
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    summary = summary if summary is not None else ReadSummary(path)
    wanted = [text_column] + ([label_column] if require_labels else []) + (
        [pair_column] if pair_column else [])
    for number, row in _rows(path, fmt):
        summary.rows += 1
        missing = [c for c in wanted if c not in row]
        if missing:
            raise ValueError(f"{path}: line {number}: no column {missing[0]!r}; the row has "
                             f"{sorted(row)}; choose columns with --text-column/--label-column")
        text = row[text_column]
        label = row.get(label_column)
        pair = row.get(pair_column) if pair_column else None
        for name, value in ((text_column, text), (pair_column, pair)):
            if value is None and name == text_column:
                raise ValueError(f"{path}: line {number}: column {name!r} is null; expected "
                                 "a string")
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{path}: line {number}: column {name!r} must be a string, "
                                 f"got {type(value).__name__}")
        label_set = None
        if multi_label and label is not None:
            label_set, label = _label_set(label, path, number, label_column, label_separator), \
                None
        if label is not None and not isinstance(label, (str, int, bool)):
            raise ValueError(f"{path}: line {number}: label must be a string or integer, got "
                             f"{type(label).__name__}"
                             + ("; for a list of labels use --multi-label"
                                if isinstance(label, list) else ""))
        if not text.strip() or (pair_column and not (pair or "").strip()):
            summary.skipped_empty += 1
            continue
        summary.kept += 1
        yield TextExample(text, None if label is None else str(label), pair, number,
                          label_set)


def label_ids(examples, labels, path):
    """Label names to ids; a label the model does not know is an error naming its line.
    Multi-label examples (`labels` set): a 0/1 row per example, `(examples, len(labels))`."""
    index = {label: i for i, label in enumerate(labels)}
    ids = []
    if examples and examples[0].labels is not None:
        for example in examples:
            row = [0] * len(labels)
            for label in example.labels:
                if label not in index:
                    raise ValueError(f"{path}: line {example.line}: label {label!r} is not "
                                     f"one of the model's labels {list(labels)}")
                row[index[label]] = 1
            ids.append(row)
        return ids
    for example in examples:
        if example.label not in index:
            raise ValueError(f"{path}: line {example.line}: label {example.label!r} is not one "
                             f"of the model's labels {list(labels)}")
        ids.append(index[example.label])
    return ids


def read_conll(path):
    """`[(tokens, tags)]` from a CoNLL file: a token and its tag per line (the tag last,
    separated by a tab or spaces), a blank line between sentences."""
    sentences = list(iter_conll(path))
    if not sentences:
        raise ValueError(f"{os.fspath(path)}: no sentences")
    return sentences


def iter_conll(path):
    """`read_conll`, streaming: yields the sentences one by one; an empty file yields
    nothing."""
    path = os.fspath(path)
    tokens, tags = [], []
    for number, line in enumerate(textfile.lines(path), 1):
        line = line.rstrip("\n").rstrip("\r")
        if not line.strip():
            if tokens:
                yield tokens, tags
                tokens, tags = [], []
            continue
        if line.startswith("-DOCSTART-"):
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) < 2 or not parts[0] or not parts[-1]:
            raise ValueError(f"{path}: line {number}: expected a token and a tag, "
                             f"got {line[:80]!r}")
        tag = parts[-1]
        if tag != "O" and not (len(tag) > 2 and tag[:2] in ("B-", "I-")):
            raise ValueError(f"{path}: line {number}: tag {tag[:40]!r} is not BIO "
                             "(O, B-TYPE or I-TYPE)")
        tokens.append(parts[0])
        tags.append(tag)
    if tokens:
        yield tokens, tags


@dataclasses.dataclass(frozen=True)
class QAExample:
    id: str
    question: str
    context: str
    answers: tuple  # ((text, character start), ...)
    is_impossible: bool = False


def _objects(path, parent, key, what):
    """`parent[key]`, which must be a list of JSON objects (absent: empty)."""
    items = parent.get(key, [])
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise ValueError(f"{path}: {what}: '{key}' must be a list of JSON objects")
    return items


def read_squad(path):
    """SQuAD v1.1 or v2.0 JSON. Every answer must be the context's text at its start."""
    path = os.fspath(path)
    data = textfile.read_json(path, "SQuAD JSON: an object with a 'data' list",
                              max_bytes=1 << 31)
    if not isinstance(data.get("data"), list):
        raise ValueError(f"{path}: expected SQuAD JSON: an object with a 'data' list")
    examples = []
    for number, article in enumerate(_objects(path, data, "data", "the top level"), 1):
        for paragraph in _objects(path, article, "paragraphs", f"article {number}"):
            context = paragraph.get("context")
            if not isinstance(context, str):
                raise ValueError(f"{path}: article {number}: a paragraph has no 'context' "
                                 "string")
            for qa in _objects(path, paragraph, "qas", f"article {number}"):
                qid = str(qa.get("id", "?"))
                question = qa.get("question")
                if not isinstance(question, str) or not question.strip():
                    raise ValueError(f"{path}: question {qid}: no 'question' text")
                impossible = bool(qa.get("is_impossible", False))
                answers = []
                for answer in _objects(path, qa, "answers", f"question {qid}"):
                    text, start = answer.get("text"), answer.get("answer_start")
                    if not isinstance(text, str) or type(start) is not int:
                        raise ValueError(f"{path}: question {qid}: an answer needs 'text' and "
                                         "an integer 'answer_start'")
                    if start < 0 or context[start:start + len(text)] != text:
                        raise ValueError(
                            f"{path}: question {qid}: answer {text[:80]!r} is not in the "
                            f"context at character {start} (found "
                            f"{context[max(start, 0):max(start, 0) + len(text)][:80]!r})")
                    answers.append((text, start))
                if not answers and not impossible:
                    raise ValueError(f"{path}: question {qid}: no answers and not marked "
                                     "is_impossible")
                examples.append(QAExample(qid, question, context, tuple(answers), impossible))
    if not examples:
        raise ValueError(f"{path}: no questions")
    return examples


def read_records(path, text_column="text", pair_column=None, label_column="label",
                 need_labels=False):
    """Records (`text`, `pair`, `label`, `where`) from a `.jsonl`/`.csv`/`.tsv` file: what
    predictors, calibration and the demo's comparison read."""
    examples, _ = read_classification(path, text_column, label_column, pair_column,
                                      require_labels=need_labels)
    return [{"text": e.text, "pair": e.pair, "label": e.label, "where": f"{path}: line {e.line}"}
            for e in examples]
