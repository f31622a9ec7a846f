"""Evaluation reports: the metrics dict as JSON plus a human-readable Markdown twin."""

from __future__ import annotations

import json
import math
import os

from tfbert.atomic import atomic_file

_ROW_TITLES = {"per_class": ("Per class", "class"), "per_type": ("Per entity type", "type"),
               "reliability": ("Reliability (confidence bins)", "bin")}


def write_atomically(path, write):
    """Calls `write(binary_file)` on a temporary file beside `path`, then renames it to `path`.

    A reader sees either the old file or the complete new one; on error the temporary file is
    removed and `path` is untouched. Returns `path` as a string.
    """
    path = os.fspath(path)
    with atomic_file(path) as staging:
        with open(staging, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
    return path


def _jsonable(value):
    """`value` with numpy scalars and arrays as Python values; inf and nan (not JSON) as None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy array or scalar
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(value):
    """One Markdown table cell: floats to 4 decimals, pipes escaped, one line."""
    if isinstance(value, bool) or value is None:
        text = str(value)
    elif isinstance(value, float) or (hasattr(value, "dtype") and value.dtype.kind == "f"):
        text = f"{float(value):.4f}"
    elif isinstance(value, (str, int)) or hasattr(value, "dtype"):
        text = str(value)
    else:
        text = json.dumps(_jsonable(value), ensure_ascii=False)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header, rows):
    """Markdown table lines from a header and rows of raw values."""
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _is_scalar(value):
    """True for a value that fits one table cell: None, a number, a string, a numpy scalar."""
    if value is None or isinstance(value, (int, float, str)):
        return True
    return hasattr(value, "dtype") and not value.shape


def _is_row_table(value):
    """True for {name: {column: scalar}}, the shape of `per_class` and `per_type`."""
    return (isinstance(value, dict) and bool(value)
            and all(isinstance(row, dict) and all(map(_is_scalar, row.values()))
                    for row in value.values()))


def markdown_report(metrics, title, details=None):
    """The Markdown text of a report: title, details, scalar metrics, per-class tables, and
    the confusion matrix (rows true, columns predicted) when `metrics` has one.

    >>> print(markdown_report({"accuracy": 0.5}, "Dev"))  # doctest: +NORMALIZE_WHITESPACE
    # Dev
    <BLANKLINE>
    ## Metrics
    <BLANKLINE>
    | metric | value |
    |---|---|
    | accuracy | 0.5000 |
    <BLANKLINE>
    """
    if not isinstance(metrics, dict):
        raise ValueError(f"metrics must be a dict. Received: {type(metrics).__name__}")
    lines = [f"# {title}", ""]
    if details:
        lines += ["## Details", ""] + _table(["detail", "value"], details.items()) + [""]
    scalars = [(k, v) for k, v in metrics.items() if _is_scalar(v)]
    if scalars:
        lines += ["## Metrics", ""] + _table(["metric", "value"], scalars) + [""]
    for key, value in metrics.items():
        if not _is_row_table(value):
            continue
        heading, first = _ROW_TITLES.get(key, (key.replace("_", " ").capitalize(), "name"))
        columns = list(dict.fromkeys(c for row in value.values() for c in row))
        rows = [[name] + [row.get(c, "") for c in columns] for name, row in value.items()]
        lines += [f"## {heading}", ""] + _table([first] + columns, rows) + [""]
    matrix = metrics.get("confusion_matrix")
    if matrix is not None:
        matrix = _jsonable(matrix)
        names = list(metrics.get("per_class", {})) or list(range(len(matrix)))
        if len(names) != len(matrix):
            names = list(range(len(matrix)))
        rows = [[name] + list(row) for name, row in zip(names, matrix)]
        lines += ["## Confusion matrix", "", "Rows: true class; columns: predicted class.", ""]
        lines += _table(["true \\ predicted"] + names, rows) + [""]
    return "\n".join(lines)


def write_report(metrics, path, title, details=None):
    """Writes `metrics` as JSON at `path` and its Markdown report at `path` with suffix .md.

    The JSON holds the metrics at the top level and `details` (e.g. model, data, task) under
    "details"; numpy values become Python values and inf / nan become null. Each file appears
    complete or not at all. Returns [json_path, markdown_path].
    """
    path = os.fspath(path)
    stem, suffix = os.path.splitext(path)
    if suffix.lower() == ".md":
        raise ValueError(f"path is the JSON file; its Markdown twin gets the suffix .md. "
                         f"Received: {path}; use e.g. {stem}.json")
    markdown = markdown_report(metrics, title, details)  # also checks `metrics` is a dict
    if "details" in metrics:
        raise ValueError(f"metrics may not have a 'details' key; pass details=... instead. "
                         f"Received keys: {list(metrics)}")
    document = _jsonable(dict(metrics))
    if details is not None:
        document["details"] = _jsonable(details)
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False,
                      default=str) + "\n"  # e.g. a Path in details
    return [write_atomically(path, lambda f: f.write(text.encode("utf-8"))),
            write_atomically(stem + ".md", lambda f: f.write(markdown.encode("utf-8")))]
