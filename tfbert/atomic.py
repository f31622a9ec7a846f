"""Files and directories that appear only complete: built beside their destination, then
renamed. Staging names carry the writer's process id and host (`.NAME.PID-HOST.xxxx`), so
the next writer on the same host removes what a killed one left behind; another host's
staging (shared storage) is never touched."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
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
    _finish_swap(*os.path.split(destination))
    occupied = os.path.exists(destination) and (
        not os.path.isdir(destination) or bool(os.listdir(destination)))
    if occupied and not replace:
        raise ValueError(f"{destination}: exists and is not empty; choose a new directory")
    parent, name = os.path.split(destination)
    os.makedirs(parent, exist_ok=True)
    remove_abandoned(parent, f".{name}.")
    staging = tempfile.mkdtemp(prefix=f".{name}.{writer_tag()}.", dir=parent)
    try:
        yield staging
        if os.path.isdir(destination) and not os.listdir(destination):
            os.rmdir(destination)
        if os.path.exists(destination):
            old = tempfile.mkdtemp(prefix=f".{name}.old.{writer_tag()}.", dir=parent)
            os.rename(destination, os.path.join(old, name))
            os.rename(staging, destination)
            shutil.rmtree(old)
        else:
            os.rename(staging, destination)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        if err.filename is None and err.errno is not None:  # name what was being written
            raise OSError(err.errno, err.strerror, destination) from None
        raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def writer_tag() -> str:
    """`PID-HOST` of this process, for staging names."""
    host = "".join(c for c in socket.gethostname() if c.isalnum()) or "host"
    return f"{os.getpid()}-{host}"


def _abandoned(entry, prefix) -> bool:
    """Whether `entry` is `PREFIX<pid>-<host>.*` of a process of this host that has ended."""
    if not entry.startswith(prefix):
        return False
    tag, dot, _ = entry[len(prefix):].partition(".")
    pid, dash, host = tag.partition("-")
    if not (dot and dash and pid.isdigit()) or host != writer_tag().partition("-")[2]:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    return False


def _finish_swap(parent, name) -> None:
    """A writer killed between its two renames left the old `name` in `.NAME.old.TAG.*/`
    and no `name`: put the old one back (or drop it when a new one got there). A live
    writer's swap, or another host's, is left alone."""
    if not os.path.isdir(parent):
        return
    for entry in os.listdir(parent):
        held = os.path.join(parent, entry, name)
        if _abandoned(entry, f".{name}.old.") and os.path.isdir(os.path.join(parent, entry)):
            if os.path.lexists(held) and not os.path.lexists(os.path.join(parent, name)):
                os.rename(held, os.path.join(parent, name))
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)


def remove_abandoned(parent, prefix) -> None:
    """Removes `parent/PREFIX<pid>-<host>.*` staging files and directories of processes of
    this host that have ended (killed mid-write); live writers' are left alone."""
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    for entry in entries:
        if _abandoned(entry, prefix):
            path = os.path.join(parent, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.remove(path)


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
    prefix = f".{os.path.basename(path)}."
    remove_abandoned(os.path.dirname(path), prefix)
    try:
        fd, staging = tempfile.mkstemp(prefix=f"{prefix}{writer_tag()}.",
                                       dir=os.path.dirname(path))
    except OSError as err:   # name the file asked for, not the staging name
        raise OSError(err.errno, err.strerror, path) from None
    os.close(fd)
    # mkstemp makes the file private (0600); give it an ordinary new file's mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o666 & ~umask)
    try:
        yield staging
        os.replace(staging, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.remove(staging)
        if err.filename is None and err.errno is not None:  # name the file being written
            raise OSError(err.errno, err.strerror, path) from None
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(staging)
        raise


def write_jsonl(path, rows) -> None:
    """Writes `rows` (an iterable of JSON values) one per line as UTF-8, atomically."""
    import json

    with atomic_file(path) as staging:
        with open(staging, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_json(path, data) -> None:
    """Writes `data` as indented UTF-8 JSON, atomically."""
    import json

    with atomic_file(path) as staging:
        with open(staging, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
