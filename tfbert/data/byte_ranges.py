"""Byte ranges of text files that workers read independently, keeping documents whole.

A corpus file (one sentence per line, a blank line between documents) is cut into ranges
of about `split_bytes`. A range owns the documents whose first line starts inside it: its
reader starts at the first document that begins at or after the range's start and reads
the last document it owns to its end, past the range's end if need be. Every document is
read by exactly one range, whole, and no range needs another's content, so ranges can be
read by different processes or machines in any order. The ranges of a file depend only
on its size and `split_bytes`, so the same settings give the same documents per range.
"""

from __future__ import annotations

import codecs
import os


def is_remote(path) -> bool:
    """A URL (`gs://`, `s3://`, `hdfs://`...): read through Apache Beam's file systems,
    which a Beam worker has; anything else is a local path."""
    return "://" in os.fspath(path)


def file_size(path) -> int:
    if is_remote(path):
        from apache_beam.io.filesystems import FileSystems

        return FileSystems.match([path])[0].metadata_list[0].size_in_bytes
    return os.path.getsize(path)


def open_binary(path):
    """`path` open for reading bytes, with seek and readline (local or remote)."""
    if is_remote(path):
        from apache_beam.io.filesystem import CompressionTypes
        from apache_beam.io.filesystems import FileSystems

        return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    return open(path, "rb")

def plan_splits(files, split_bytes: int) -> list:
    """`[(file_index, split_index, path, start, end)]` covering every byte of `files`."""
    if split_bytes < 1:
        raise ValueError(f"split_bytes must be positive. Received: {split_bytes}")
    splits = []
    for file_index, path in enumerate(files):
        size = file_size(path)
        count = max(1, -(-size // split_bytes))
        for split_index in range(count):
            start = split_index * split_bytes
            splits.append((file_index, split_index, path, start,
                           size if split_index == count - 1 else start + split_bytes))
    return splits


def _previous_line_blank(f, position: int) -> bool:
    """Whether the line that ends just before `position` (a line start) is blank, as
    `str.strip` sees it (a line of ideographic spaces is blank too)."""
    if position <= 0:
        return True                  # the file's first line
    line_start = cursor = position - 1   # the newline that ends that line
    while cursor > 0:
        chunk_start = max(0, cursor - 4096)
        f.seek(chunk_start)
        found = f.read(cursor - chunk_start).rfind(b"\n")
        if found >= 0:
            line_start = chunk_start + found + 1
            break
        line_start = cursor = chunk_start
    f.seek(line_start)
    return not f.read(position - line_start).decode("utf-8", "replace").strip()


def _decode(path, raw: bytes, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: the line at byte {offset + 1}: not UTF-8 (byte "
                         f"0x{raw[err.start]:02x}); expected UTF-8 text, re-save the file as "
                         "UTF-8") from None


def _lines_from(f, start: int):
    """Yields `(offset, raw line)` from the first line that starts at or after `start` to
    the end of the open file `f`. A UTF-8 byte-order mark belongs to the first line (its
    offset is 0) and is dropped from it."""
    position = bom = 0
    if start == 0:
        if f.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8:
            bom = len(codecs.BOM_UTF8)
        else:
            f.seek(0)
    else:
        f.seek(start - 1)
        f.readline()                  # to the first line start at or after `start`
        position = f.tell()
    for raw in iter(f.readline, b""):
        yield position, raw
        position += len(raw) + bom
        bom = 0


def split_documents(path, start: int, end: int):
    """Yields the documents (lists of stripped sentences) that `[start, end)` of `path`
    owns."""
    with open_binary(path) as f:
        previous_blank, document, inside = None, [], False
        for offset, raw in _lines_from(f, start):
            if previous_blank is None:    # the line before the first one read
                previous_blank = offset == 0
                if offset:                # (it looks back, then returns to where it was)
                    previous_blank = _previous_line_blank(f, offset)
                    f.seek(offset + len(raw))
            if b"\x00" in raw:
                raise ValueError(f"{path}: the line at byte {offset + 1}: holds a NUL byte; "
                                 "expected UTF-8 text (one sentence per line), not a binary "
                                 "or UTF-16 file")
            line = _decode(path, raw, offset).strip()
            if not line:
                if document:
                    yield document
                    document = []
                inside, previous_blank = False, True
                continue
            if previous_blank:        # a document starts on this line
                if offset >= end:
                    return
                inside = True
            previous_blank = False
            if inside:                # (else: the end of a document an earlier range owns)
                document.append(line)
        if document:
            yield document


def split_lines(path, start: int, end: int):
    """Yields `(offset, raw line)` for the lines that start in `[start, end)` of `path`
    (line endings kept; a first-line byte-order mark dropped)."""
    with open_binary(path) as f:
        for offset, raw in _lines_from(f, start):
            if offset >= end:
                return
            yield offset, raw


def count_lines(path, start: int, end: int) -> int:
    """How many lines start in `[start, end)` of `path` (what `split_lines` yields)."""
    return sum(1 for _ in split_lines(path, start, end))
