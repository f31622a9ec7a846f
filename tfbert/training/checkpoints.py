"""Checkpoints of a training run: resumable state, the best dev weights, the run's identity.

`checkpoints/` holds the last checkpoints (`ckpt-<step>.safetensors`: weights, optimizer
state, dropout seed states; see `CheckpointStore`), `state.json` (per checkpoint step: the
history, best metric and early-stopping count), `best.safetensors` and `run.json`, the
settings and inputs that define the run. Only the chief (worker 0, or the only process)
writes them.
"""

from __future__ import annotations

import errno
import json
import os
import re
import warnings

import numpy as np

from tfbert.atomic import atomic_file, write_json
from tfbert.textfile import first_line

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


CHECKPOINT_PREFIX, CHECKPOINT_SUFFIX = "ckpt-", ".safetensors"


def checkpoint_files(directory) -> dict:
    """`{step: path}` of the `ckpt-<step>.safetensors` files in `directory`."""
    found = {}
    for name in os.listdir(directory) if os.path.isdir(directory) else ():
        step = name[len(CHECKPOINT_PREFIX):-len(CHECKPOINT_SUFFIX)]
        if name.startswith(CHECKPOINT_PREFIX) and name.endswith(CHECKPOINT_SUFFIX) \
                and step.isdigit():
            found[int(step)] = os.path.join(directory, name)
    return found


def _tensors(prefix, variables) -> dict:
    # Keyed by position and path: two variables may share a path (a distiller's teacher
    # and student), and the position keeps each in its place.
    # (np.ascontiguousarray would make a scalar, the step count, one-dimensional.)
    return {f"{prefix}/{i:05d}/{v.path}": np.require(np.asarray(v.numpy()), requirements="C")
            for i, v in enumerate(variables)}


def _save_tensors(tensors, path, metadata=None):
    """A safetensors file that appears only complete; a failed write (a full disk, a file
    size limit) is an `OSError` naming the file, as Python's own writes are."""
    from safetensors import SafetensorError
    from safetensors.numpy import save_file

    with atomic_file(path) as staging:
        try:
            save_file(tensors, staging, metadata=metadata)
        except SafetensorError as err:
            code = re.search(r"os error (\d+)", str(err))
            number = int(code.group(1)) if code else errno.EIO
            raise OSError(number, os.strerror(number), path) from None


def _stable(prefix, path):
    """A variable's path without the names Keras numbers per process: the optimizer's
    (`adam_w_2/...`) and the dropout seed generators' (`seed_generator_151`)."""
    if prefix == "optimizer":
        path = path.split("/", 1)[-1]
    return re.sub(r"(^|/)(seed_generator)_\d+(?=/|$)", r"\1\2", path)


class CheckpointStore:
    """Saves and restores a run's checkpoints (see the module docstring).

    A checkpoint is one safetensors file, `ckpt-<step>.safetensors`: every variable of
    `model` (weights and the dropout seed generators' states) under `model/<i>/<path>` and
    every variable of `optimizer` (step count, moments, loss scale) under
    `optimizer/<i>/<path>`, as NumPy arrays. It depends on no backend: a run trained on
    TensorFlow resumes on JAX and the other way round. Only the chief writes.
    """

    def __init__(self, directory, keep, model, optimizer, chief=True):
        self.directory = directory
        self.keep = keep
        self.model, self.optimizer = model, optimizer
        self.chief = chief
        self.best_path = os.path.join(directory, BEST_FILE)
        self.state_path = os.path.join(directory, STATE_FILE)

    def _states(self) -> dict:
        try:
            with open(self.state_path, encoding="utf-8") as f:
                states = json.load(f)
        except (OSError, ValueError):
            return {}
        return states if isinstance(states, dict) else {}

    def _groups(self):
        return (("model", self.model.variables), ("optimizer", self.optimizer.variables))

    def _read(self, path) -> list:
        """The values to assign, checked against the variables: `[(variable, array)]`."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            tensors = load_file(path)
        except (OSError, SafetensorError, ValueError) as err:
            raise ValueError(first_line(err)) from None
        pairs = []
        for prefix, variables in self._groups():
            names = sorted(k for k in tensors if k.startswith(prefix + "/"))
            if len(names) != len(variables):
                raise ValueError(f"{len(names)} {prefix} variables, this run has "
                                 f"{len(variables)}")
            for name, variable in zip(names, variables):
                value = tensors[name]
                if _stable(prefix, name.split("/", 2)[2]) != _stable(prefix, variable.path) or \
                        tuple(value.shape) != tuple(variable.shape):
                    raise ValueError(f"{name} {tuple(value.shape)} does not fit "
                                     f"{variable.path} {tuple(variable.shape)}")
                pairs.append((variable, value))
        return pairs

    def restore(self) -> dict:
        """Restores the newest checkpoint that has its state and reads back whole; returns
        that state ({} when there is none). A damaged checkpoint (a disk that filled up,
        a file cut short) is skipped with a warning for the one before it."""
        states = self._states()
        files = checkpoint_files(self.directory)
        names = os.listdir(self.directory) if os.path.isdir(self.directory) else []
        if not files and any(n.startswith(CHECKPOINT_PREFIX) and n.endswith(".index")
                             for n in names):
            raise ValueError(f"{self.directory}: holds TensorFlow-format checkpoints of an "
                             "earlier tfbert; finish that run with it, or use a new --out")
        tried = []
        for step in sorted(files, reverse=True):
            if str(step) not in states:
                continue
            try:
                pairs = self._read(files[step])
            except ValueError as err:
                tried.append(files[step])
                warnings.warn(f"{files[step]}: unreadable ({str(err)[:160]}); trying the "
                              "checkpoint before it", stacklevel=2)
                continue
            # Every file is read and checked before the first variable is set.
            for variable, value in pairs:
                variable.assign(value)
            return states[str(step)]
        if tried:
            raise ValueError(f"{self.directory}: no checkpoint reads back ({len(tried)} "
                             "tried); remove the directory to start the run again")
        return {}

    def save(self, step: int, state: dict) -> None:
        if not self.chief:
            return
        tensors = {}
        for prefix, variables in self._groups():
            tensors.update(_tensors(prefix, variables))
        path = os.path.join(self.directory, f"{CHECKPOINT_PREFIX}{step}{CHECKPOINT_SUFFIX}")
        os.makedirs(self.directory, exist_ok=True)
        _save_tensors(tensors, path, metadata={"step": str(step)})
        files = checkpoint_files(self.directory)
        kept = sorted(files)[-self.keep:]
        states = {k: v for k, v in self._states().items() if k.isdigit() and int(k) in kept}
        states[str(step)] = state
        write_json(self.state_path, states)
        for old in set(files) - set(kept):   # after the state that no longer names them
            os.remove(files[old])

    def save_best(self, model) -> None:
        if not self.chief:
            return
        from tfbert.model_dir import model_weights

        _save_tensors(model_weights(model), self.best_path)


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
