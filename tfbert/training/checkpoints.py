"""Checkpoints of a training run: resumable state, the best dev weights, the run's identity.

`checkpoints/` holds TensorFlow checkpoints (`ckpt-<step>`: weights, optimizer slots,
step) managed by `tf.train.CheckpointManager`, `state.json` (per checkpoint step: the
history, best metric and early-stopping count), `best.safetensors` and `run.json`, the
settings and inputs that define the run. Under `MultiWorkerMirroredStrategy` every worker
takes part in saving; only the chief's files are kept.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings

import tensorflow as tf

from tfbert.atomic import atomic_file, write_json
from tfbert.textfile import first_line
from tfbert.training.strategy import is_chief

RUN_FILE = "run.json"
STATE_FILE = "state.json"
BEST_FILE = "best.safetensors"


def _differences(old: dict, new: dict, prefix="") -> list:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {b!r} here, {a!r} there")
    return out


RECORDS_DIR = "data"


def check_output_dir(out_dir, identity: dict) -> bool:
    """Checks that `out_dir` is new, empty, or holds checkpoints of this same run.

    Returns whether it holds this run (the caller resumes). A directory holding anything
    else is an error, raised before anything is written.
    """
    out_dir = os.path.abspath(out_dir)
    if not os.path.exists(out_dir) or (os.path.isdir(out_dir) and not (
            set(os.listdir(out_dir)) - {RECORDS_DIR})):
        # (RECORDS_DIR: records given in memory to `tfbert.finetune`, written for this run)
        return False
    if not os.path.isdir(out_dir):
        raise ValueError(f"--out {out_dir}: is a file; expected a directory for the model")
    run_path = os.path.join(out_dir, "checkpoints", RUN_FILE)
    if not os.path.isfile(run_path):
        raise ValueError(f"--out {out_dir}: is not empty and holds no tfbert training run "
                         f"(no checkpoints/{RUN_FILE}); choose a new or empty directory")
    try:
        with open(run_path, encoding="utf-8") as f:
            previous = json.load(f)
    except (OSError, ValueError) as err:
        raise ValueError(f"{run_path}: unreadable ({err}); choose a new --out") from None
    differences = _differences(previous, json.loads(json.dumps(identity)))
    if differences:
        raise ValueError(f"--out {out_dir}: holds checkpoints of a different run ("
                         + "; ".join(differences[:3])
                         + (f"; {len(differences) - 3} more" if len(differences) > 3 else "")
                         + "); use the same settings to resume, or a new --out")
    return True


def write_run(out_dir, identity: dict) -> None:
    path = os.path.join(os.path.abspath(out_dir), "checkpoints", RUN_FILE)
    if not os.path.isfile(path):
        write_json(path, identity)


class CheckpointStore:
    """Saves and restores a run's checkpoints (see the module docstring)."""

    def __init__(self, directory, strategy, keep, **objects):
        self.directory = directory
        self.chief = is_chief(strategy)
        self.checkpoint = tf.train.Checkpoint(**objects)
        if self.chief:
            save_dir = directory
        else:  # A worker's copy goes to a scratch directory that is removed after saving.
            task_id = strategy.cluster_resolver.task_id
            save_dir = os.path.join(directory, f".worker-{task_id}")
        self.save_dir = save_dir
        self.manager = tf.train.CheckpointManager(self.checkpoint, save_dir, max_to_keep=keep)
        self.best_path = os.path.join(directory, BEST_FILE)
        self.state_path = os.path.join(directory, STATE_FILE)

    def _states(self) -> dict:
        try:
            with open(self.state_path, encoding="utf-8") as f:
                states = json.load(f)
        except (OSError, ValueError):
            return {}
        return states if isinstance(states, dict) else {}

    def restore(self) -> dict:
        """Restores the newest checkpoint that has its state and reads back whole; returns
        that state ({} when there is none). A damaged checkpoint (a disk that filled up,
        a file cut short) is skipped with a warning for the one before it."""
        states = self._states()
        candidates = tf.train.get_checkpoint_state(self.directory)
        paths = list(candidates.all_model_checkpoint_paths) if candidates else []
        tried = []
        for path in reversed(paths):
            name = os.path.basename(path)
            # Only this run's own ckpt-<step> files, whatever the `checkpoint` file says.
            path = os.path.join(self.directory, name)
            step = name.rsplit("-", 1)[-1]
            if not (name == f"ckpt-{step}" and step.isdigit() and step in states
                    and tf.io.gfile.exists(path + ".index")):
                continue
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except (tf.errors.OpError, AssertionError, ValueError) as err:
                tried.append(path)
                warnings.warn(f"{path}: unreadable ({first_line(err)[:160]}); trying the "
                              "checkpoint before it", stacklevel=2)
                continue
            return states[step]
        if tried:
            # A failed restore may have set some variables already: starting over from
            # them would mix two runs.
            raise ValueError(f"{self.directory}: no checkpoint reads back ({len(tried)} "
                             "tried); remove the directory to start the run again")
        return {}

    def save(self, step: int, state: dict) -> None:
        path = self.manager.save(checkpoint_number=step)
        if not self.chief:
            shutil.rmtree(self.save_dir, ignore_errors=True)
            return
        kept = {p.rsplit("-", 1)[-1] for p in self.manager.checkpoints}
        states = {k: v for k, v in self._states().items() if k in kept}
        states[str(step)] = state
        write_json(self.state_path, states)
        assert os.path.basename(path) == f"ckpt-{step}", path

    def save_best(self, model) -> None:
        if not self.chief:
            return
        from safetensors.numpy import save_file

        from tfbert.model_dir import model_weights

        with atomic_file(self.best_path) as staging:
            save_file(model_weights(model), staging)


def fingerprint(path) -> dict:
    """Identifies an `--init` checkpoint by content: its path and the SHA-256 of each file
    in it (a file, or a directory's files, not its `checkpoints/`)."""
    from tfbert.atomic import sha256_file

    path = os.path.abspath(path)
    if os.path.isfile(path):
        return {"path": path, "files": {os.path.basename(path): sha256_file(path)}}
    files = {name: sha256_file(os.path.join(path, name)) for name in sorted(os.listdir(path))
             if os.path.isfile(os.path.join(path, name))}
    return {"path": path, "files": files}
