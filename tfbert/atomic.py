"""Directories that appear only complete: built beside their destination, then renamed."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile


@contextlib.contextmanager
def staged_directory(destination, replace: bool = False):
    """Yields a temporary directory next to `destination`; on success it becomes
    `destination` by one rename, on failure it is removed and nothing else changes.

    Without `replace`, an existing non-empty `destination` is an error (checked first,
    so nothing is built in vain); with it, the old directory is swapped out only after the
    new one is complete.
    """
    destination = os.path.abspath(os.fspath(destination))
    occupied = os.path.exists(destination) and (
        not os.path.isdir(destination) or bool(os.listdir(destination)))
    if occupied and not replace:
        raise ValueError(f"{destination}: exists and is not empty; choose a new directory")
    parent, name = os.path.split(destination)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{name}.", dir=parent)
    try:
        yield staging
        if os.path.isdir(destination) and not os.listdir(destination):
            os.rmdir(destination)
        if os.path.exists(destination):
            old = tempfile.mkdtemp(prefix=f".{name}.old.", dir=parent)
            os.rename(destination, os.path.join(old, name))
            os.rename(staging, destination)
            shutil.rmtree(old)
        else:
            os.rename(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def sha256_file(path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_file(path):
    """Yields a temporary path beside `path`; on success it replaces `path` by one rename,
    on failure it is removed, so readers see the old file or the new one, never half."""
    path = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=os.path.dirname(path))
    os.close(fd)
    # mkstemp makes the file private (0600); give it an ordinary new file's mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o666 & ~umask)
    try:
        yield staging
        os.replace(staging, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(staging)
        raise


def write_json(path, data) -> None:
    """Writes `data` as indented UTF-8 JSON, atomically."""
    import json

    with atomic_file(path) as staging:
        with open(staging, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
