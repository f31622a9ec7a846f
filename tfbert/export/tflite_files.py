"""The files a tfbert `.tflite` carries after its flatbuffer, and their names.

An in-model export packs its `task.json`; a metadata export (MediaPipe) packs `vocab.txt`
and `labels.txt` as the metadata's associated files. Both are a stored ZIP appended to the
flatbuffer, which interpreters ignore. Nothing here needs TensorFlow or mediapipe, so a
file's packed task and labels can be read without building the metadata writer.
"""

from __future__ import annotations

import io
import zipfile

TASK_FILE = "tfbert_task.json"
VOCAB_FILE = "vocab.txt"
LABELS_FILE = "labels.txt"


def pack_files(content: bytes, files: dict) -> bytes:
    """`content` with `files` appended as a stored ZIP (as TFLite metadata packs its
    associated files; the interpreter ignores bytes after the flatbuffer)."""
    out = io.BytesIO(bytes(content))
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def packed_files(content: bytes) -> dict:
    """The files packed after a `.tflite` flatbuffer (`{}` when none)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
            # Sizes come from the archive's own headers: a stored file cannot be larger
            # than the bytes around it, so a larger claim (a ZIP bomb) is never read.
            if sum(m.file_size for m in members) > len(content):
                raise ValueError("the files packed in the model claim more bytes than the "
                                 "file holds")
            return {m.filename: archive.read(m) for m in members}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError):
        return {}
