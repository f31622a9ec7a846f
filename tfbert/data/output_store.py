"""The output directory of a Beam pipeline's driver, local or remote (`gs://...`).

A local directory is written as the rest of tfbert writes (a file appears complete, by a
rename); a remote one through Apache Beam's file systems, where an object appears whole
when its upload finishes. Either way the driver writes the manifest last.
"""

from __future__ import annotations

import json
import os
import shutil

from tfbert import textfile
from tfbert.atomic import sha256_file, write_json
from tfbert.data.byte_ranges import is_remote


class Store:
    """Files directly under `root`."""

    def __init__(self, root):
        self.root = os.fspath(root)
        self.remote = is_remote(self.root)
        if self.remote:
            from apache_beam.io.filesystems import FileSystems

            self._fs = FileSystems
        else:
            os.makedirs(self.root, exist_ok=True)

    def path(self, *names) -> str:
        return self._fs.join(self.root, *names) if self.remote else \
            os.path.join(self.root, *names)

    def exists(self, name) -> bool:
        return self._fs.exists(self.path(name)) if self.remote else \
            os.path.exists(self.path(name))

    def names(self, prefix="") -> list:
        """The names under `root` that start with `prefix` (locally, of the directory
        `prefix` names; remotely, every object below it)."""
        if not self.remote:   # (prefix may name a subdirectory: "staging/part-")
            directory, start = os.path.split(prefix)
            found = os.path.join(self.root, directory)
            return sorted(os.path.join(directory, n) for n in
                          (os.listdir(found) if os.path.isdir(found) else ())
                          if n.startswith(start))
        pattern = self.path(prefix + "*")
        found = self._fs.match([pattern])[0].metadata_list
        return sorted(m.path[len(self.root.rstrip("/")) + 1:] for m in found)

    def read_json(self, name, expected):
        if not self.remote:
            return textfile.read_json(self.path(name), expected)
        with self._fs.open(self.path(name)) as f:
            data = textfile.decode(self.path(name), f.read())
        try:
            return json.loads(data)
        except json.JSONDecodeError as err:
            raise ValueError(f"{self.path(name)}: line {err.lineno}: invalid JSON ({err.msg}); "
                             f"expected {expected}") from None

    def write_json(self, name, value) -> None:
        if not self.remote:
            write_json(self.path(name), value)
            return
        with self._fs.create(self.path(name), mime_type="application/json") as f:
            f.write((json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))

    def lines(self, name) -> list:
        if not self.remote:
            with open(self.path(name), encoding="utf-8") as f:
                return [line for line in f if line.strip()]
        with self._fs.open(self.path(name)) as f:
            return [line for line in f.read().decode("utf-8").splitlines() if line.strip()]

    def remove(self, name) -> None:
        """Removes a file or a whole directory tree; nothing if it is not there."""
        path = self.path(name)
        if self.remote:
            found = self._fs.match([path + "**"])[0].metadata_list   # (** crosses "/")
            below = [m.path for m in found if m.path == path or m.path.startswith(path + "/")]
            if below:
                self._fs.delete(below)
        elif os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)

    def rename(self, source, name) -> None:
        """`source` (a path under `root`) becomes `root/name`."""
        if self.remote:
            self._fs.rename([source], [self.path(name)])
        else:
            os.replace(source, self.path(name))

    def size(self, name) -> int:
        if self.remote:
            return self._fs.match([self.path(name)])[0].metadata_list[0].size_in_bytes
        return os.path.getsize(self.path(name))

    def sha256(self, name) -> str:
        """Read back whole: local only (a remote store is checked by size)."""
        return sha256_file(self.path(name))
