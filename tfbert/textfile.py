"""Reading text and JSON files from users and strangers: every failure is a `ValueError`
that names the file and the line, and says what was expected.

Python's own messages ("'utf-8' codec can't decode byte 0xb0 in position 7", "Expecting
value: line 1 column 1 (char 0)") name neither the file nor, for bytes, the line. A UTF-8
byte-order mark (what Excel and Notepad write) is accepted and dropped.
"""

from __future__ import annotations

import codecs
import json
import os

# JSON metadata files (config.json, task.json, manifests) are small; anything larger is
# not one of ours, and reading it whole would only waste memory.
MAX_JSON_BYTES = 64 << 20


def _not_utf8(path, number, raw: bytes, err: UnicodeDecodeError) -> ValueError:
    return ValueError(f"{path}: line {number}: not UTF-8 (byte 0x{raw[err.start]:02x} at byte "
                      f"{err.start + 1} of the line); expected UTF-8 text, re-save the file "
                      "as UTF-8")


def lines(path):
    """Yields the lines of a UTF-8 text file, line endings kept (as `open(newline="")`
    gives them, so `csv` can read quoted line breaks)."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise _not_utf8(path, number, raw, err) from None


def check_utf8(path) -> int:
    """Reads `path` through once and raises the `lines` error at its first byte that is
    not UTF-8, for readers (tf.data's) that would pass such bytes on silently. Returns
    the number of lines."""
    return sum(1 for _ in lines(path))


def decode(path, data: bytes) -> str:
    """`data` (the whole content of `path`) as text; an error names the line."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        start = data.rfind(b"\n", 0, err.start) + 1
        end = data.find(b"\n", err.start)
        line = data[start:end if end >= 0 else len(data)]
        shifted = UnicodeDecodeError(err.encoding, line, err.start - start, err.end - start,
                                     err.reason)
        raise _not_utf8(path, data.count(b"\n", 0, err.start) + 1, line, shifted) from None


def read_text(path) -> str:
    """The whole of a UTF-8 text file."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        return decode(path, f.read())


def read_json(path, expected: str = "a JSON object", max_bytes: int = MAX_JSON_BYTES,
              kind: type = dict):
    """The JSON value in `path`, which must be a `kind` (an object; `list` for an array);
    `expected` describes it in errors. Invalid JSON names its line."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size > max_bytes:
        raise ValueError(f"{path}: {size} bytes; expected {expected} of at most {max_bytes} "
                         "bytes")
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: line {err.lineno}: invalid JSON ({err.msg}); expected "
                         f"{expected}") from None
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply; expected {expected}") from None
    if not isinstance(data, kind):
        raise ValueError(f"{path}: expected {expected}, got a JSON {_json_kind(data)}")
    return data


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (TensorFlow's `OpError.message`, else its
    text), or its type name when it has none: what a one-line error quotes."""
    text = (getattr(err, "message", None) or str(err) or "").strip()
    return text.splitlines()[0] if text else type(err).__name__


def _json_kind(value) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean",
            type(None): "null"}.get(type(value), "number")
