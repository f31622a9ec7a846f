"""Which demo stages are finished: `DIR/demo.json`, so that a re-run reuses them.

Each stage has a key: a hash of its own settings and of the key and finish time of the
stage before it. A stage whose record carries the current key, is finished and whose
outputs all exist is reused. A stage started with the same key but not finished (a killed
run) is run again over its outputs, which the training stages resume from. A stage whose key
changed (other settings, or an earlier stage ran again) has its outputs removed first, so
the stages after a re-run one always run again too.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil

from tfbert.atomic import write_json

LOG_FILE = "demo.json"


class StageLog:
    def __init__(self, out_dir):
        self.out_dir = os.path.abspath(os.fspath(out_dir))
        self.path = os.path.join(self.out_dir, LOG_FILE)
        self.records = {}
        self.previous = ""
        self._pending = None
        if not os.path.exists(self.path) and os.path.isdir(self.out_dir) \
                and os.listdir(self.out_dir):
            # Stages remove their outputs before running again: never in a directory the
            # demo did not make.
            raise ValueError(f"{self.out_dir}: exists, is not empty and has no {LOG_FILE}; "
                             "choose a new or empty --out")
        if os.path.exists(self.path):
            try:
                with open(self.path, encoding="utf-8") as f:
                    self.records = json.load(f)["stages"]
                if not isinstance(self.records, dict):
                    raise TypeError
            except (OSError, ValueError, KeyError, TypeError):
                raise ValueError(f"{self.path}: not a demo stage record (expected JSON with a "
                                 "'stages' object); remove it, or use another --out") from None

    def _key(self, name, settings) -> str:
        text = json.dumps([name, settings, self.previous], sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def begin(self, name, settings, outputs) -> bool:
        """True when the stage `name` must run (its outputs made ready for it); False when
        its finished outputs can be reused."""
        if self._reuse(name, settings, outputs):
            return False
        key = self._key(name, settings)
        record = self.records.get(name) or {}
        outputs = [os.fspath(o) for o in outputs]
        if record and record.get("key") != key:
            for output in outputs:
                _remove(output)
        self.records[name] = {"key": key, "settings": settings, "finished": None}
        self._save()
        self._pending = (name, key)
        return True

    def pass_through(self, name, settings, outputs) -> None:
        """A stage not run now: when it is finished with its current key and outputs, the
        stages after it chain to it as if it had been reused; otherwise nothing changes."""
        self._reuse(name, settings, outputs)

    def _reuse(self, name, settings, outputs) -> bool:
        """Whether `name` is finished with its current key and all its outputs; if so, the
        stages after it chain to it."""
        record = self.records.get(name) or {}
        if record.get("key") == self._key(name, settings) and record.get("finished") \
                and all(os.path.exists(os.fspath(o)) for o in outputs):
            self.previous = record["key"] + record["finished"]
            return True
        return False

    def finish(self, name, **facts):
        assert self._pending and self._pending[0] == name, (self._pending, name)
        key = self._pending[1]
        # Microseconds: a stage run again within the same second still changes the keys
        # of the stages after it.
        finished = datetime.datetime.now().isoformat(timespec="microseconds")
        self.records[name].update(finished=finished, **facts)
        self._save()
        self.previous = key + finished

    def facts(self, name) -> dict:
        return self.records.get(name, {})

    def _save(self):
        write_json(self.path, {"stages": self.records})


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)
