"""Where a streaming `tfbert predict --output OUT` keeps its answers until they are all
written, and how a killed run picks them up again.

Answers are appended to `.OUT.partial` beside `OUT`; after each complete chunk,
`.OUT.progress.json` (written atomically) records how many input records are answered, how
many bytes of the staging file hold their answers, and what the answers depend on: the
input file's SHA-256, the model's, and the options. The staging file becomes `OUT` by one
rename when the last chunk is written, so `OUT` appears only complete. A re-run with the
same input, model and options cuts the staging file back to the recorded bytes (a kill
mid-chunk leaves a partial chunk after them) and skips the recorded records.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import json
import os
import sys

from tfbert.atomic import remove_abandoned, sha256_file, write_json

PROGRESS_FORMAT = "tfbert-predict-progress/1"


def input_identity(path) -> dict:
    path = os.path.abspath(os.fspath(path))
    return {"path": path, "bytes": os.path.getsize(path), "sha256": sha256_file(path)}


def model_identity(path) -> dict:
    """The SHA-256 over a model file, or over the files of a model directory (their names
    and contents; training `checkpoints/` and hidden files left out, as predicting reads
    neither)."""
    path = os.path.abspath(os.fspath(path))
    if os.path.isfile(path):
        return {"path": path, "sha256": sha256_file(path)}
    digest = hashlib.sha256()
    for directory, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "checkpoints")
        for name in sorted(f for f in files if not f.startswith(".")):
            file = os.path.join(directory, name)
            digest.update(os.path.relpath(file, path).encode() + b"\0")
            digest.update(sha256_file(file).encode())
    return {"path": path, "sha256": digest.hexdigest()}


@dataclasses.dataclass
class Staging:
    """The open staging file of one output, locked against a second writer."""

    output: str
    file: object          # binary, positioned at its end
    records: int = 0      # input records answered in the file
    bytes: int = 0        # bytes of the file that hold their answers
    empty: int = 0        # of the records, blank ones (answered with an error record)
    identity: dict | None = None

    @property
    def path(self):
        return staging_path(self.output)

    def commit_chunk(self, data: bytes, count: int, empty: int = 0) -> None:
        """Appends one chunk's answers (`count` records, `empty` of them blank), makes them
        durable, then records them: a progress record never counts bytes not on disk."""
        self.file.write(data)
        self.file.flush()
        os.fsync(self.file.fileno())
        self.records, self.bytes, self.empty = (self.records + count, self.bytes + len(data),
                                                self.empty + empty)
        if self.identity is not None:
            write_json(progress_path(self.output),
                       {"format": PROGRESS_FORMAT, "records": self.records,
                        "bytes": self.bytes, "empty": self.empty, **self.identity})

    def finish(self) -> None:
        """The staging file becomes the output (one rename), then the progress goes."""
        self.file.close()
        os.replace(self.path, self.output)
        with contextlib.suppress(FileNotFoundError):
            os.remove(progress_path(self.output))

    def close(self, keep: bool) -> None:
        """After a failure: keeps the staging file and its progress for the next run, or
        (`keep` false: nothing could resume them; or no chunk done) removes them."""
        # Closing flushes what a failed write left in the buffer, which fails again (a
        # full disk); the first error is the one to report, and the bytes past the last
        # progress record are cut by the next run anyway.
        with contextlib.suppress(OSError):
            self.file.close()
        if not (keep and self.records):
            for path in (self.path, progress_path(self.output)):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)


def staging_path(output) -> str:
    directory, name = os.path.split(output)
    return os.path.join(directory, f".{name}.partial")


def progress_path(output) -> str:
    directory, name = os.path.split(output)
    return os.path.join(directory, f".{name}.progress.json")


def open_staging(output, identity=None, log=None) -> Staging:
    """The staging file of `output`, at the end of the answers a killed run with the same
    `identity` (input, model, options; None: never resume) recorded, else empty. `log`
    gets one line when a run starts over because something changed (default: stderr)."""
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    output = os.path.abspath(os.fspath(output))
    try:
        os.makedirs(os.path.dirname(output), exist_ok=True)
        fd = os.open(staging_path(output), os.O_RDWR | os.O_CREAT, 0o666)
        # A run killed while writing its progress left that write's temporary file.
        remove_abandoned(*os.path.split(progress_path(output) + "."))
    except OSError as err:   # name the file asked for, not the staging name
        raise OSError(err.errno, err.strerror, output) from None
    file = os.fdopen(fd, "r+b")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        file.close()
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise ValueError(f"{output}: another tfbert predict is writing it (its staging "
                             f"file {staging_path(output)} is locked); wait for it to end or "
                             "choose another --output") from None
        raise
    # As the progress record will read back (tuples become lists), to compare like with like.
    identity = None if identity is None else json.loads(json.dumps(identity))
    staging = Staging(output, file, identity=identity)
    done = _resumable(staging, log)
    if done:
        staging.records, staging.bytes, staging.empty = done
    else:   # first: a stale record must never vouch for what this run writes
        with contextlib.suppress(FileNotFoundError):
            os.remove(progress_path(output))
    file.truncate(staging.bytes)
    file.seek(staging.bytes)
    return staging


def _resumable(staging, log):
    """`(records, bytes, empty)` the staging file holds for this identity, or None."""
    try:
        with open(progress_path(staging.output), encoding="utf-8") as f:
            progress = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        log(f"{staging.output}: the progress record of an interrupted run is unreadable; "
            "starting over")
        return None
    if staging.identity is None or not isinstance(progress, dict):
        return None
    size = os.fstat(staging.file.fileno()).st_size
    # The files' contents decide the answers, not where they are: a moved input or model
    # resumes.
    changed = [what for what in ("input", "model", "options")
               if _without_path(progress.get(what)) != _without_path(staging.identity[what])]
    if "options" in changed and isinstance(progress.get("options"), dict):
        was, now = progress["options"], staging.identity["options"]
        changed[-1] = "options (" + ", ".join(sorted(
            key for key in set(was) | set(now) if was.get(key) != now.get(key))) + ")"
    if progress.get("format") != PROGRESS_FORMAT or not all(
            isinstance(progress.get(key), int) for key in ("records", "bytes", "empty")):
        log(f"{staging.output}: the progress record of an interrupted run is not one this "
            "tfbert writes; starting over")
    elif changed:
        log(f"{staging.output}: the {' and '.join(changed)} changed since the interrupted "
            f"run ({progress['records']} records answered); starting over")
    elif size < progress["bytes"]:
        log(f"{staging.output}: the interrupted run's staging file {staging.path} is shorter "
            f"({size} bytes) than its progress record says ({progress['bytes']}); starting "
            "over")
    else:
        return progress["records"], progress["bytes"], progress["empty"]
    return None


def _without_path(identity):
    return {k: v for k, v in identity.items() if k != "path"} if isinstance(identity, dict) \
        else identity
