"""The tfbert model directory: `config.json`, `task.json`, `vocab.txt`, `model.safetensors`.

What `finetune`/`pretrain`/`convert` write and `export`/`predict`/`tfbert.load` read.
Weights are a safetensors file keyed by Keras variable path (`block_0/attention/query/
kernel`), so a directory is readable without Keras and loads without unpickling anything.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import numpy as np

from tfbert.atomic import atomic_file, staged_directory, write_json
from tfbert.config import BertConfig

TASKS = ("encoder", "pretrain", "classify", "pair", "ner", "qa")
WEIGHTS_FILE = "model.safetensors"


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """`task.json`: what head sits on the encoder and how its inputs are made."""

    task: str = "encoder"
    labels: tuple = ()
    multi_label: bool = False
    next_sentence: bool = True
    max_length: int = 128
    lowercase: bool = True
    # QA: how contexts were cut into windows, and whether "no answer" was trained
    # (SQuAD v2 data), so evaluation and prediction use the training's settings.
    doc_stride: int = 128
    max_query_length: int = 64
    no_answer: bool = False

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task.json: 'task' must be one of {TASKS}. Received: {self.task!r}")
        if self.task in ("classify", "pair", "ner") and not self.labels:
            raise ValueError(f"task.json: task {self.task!r} needs a non-empty 'labels' list")
        if not isinstance(self.max_length, int) or self.max_length < 2:
            raise ValueError(
                f"task.json: 'max_length' must be an integer >= 2. Received: {self.max_length!r}")

    def to_dict(self):
        data = dataclasses.asdict(self)
        data["labels"] = list(self.labels)
        return data

    @classmethod
    def from_dict(cls, data, source="task.json"):
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source}: unknown keys {unknown}; expected only {sorted(known)}")
        labels = data.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ValueError(f"{source}: 'labels' must be a list of strings")
        return cls(**{**data, "labels": tuple(labels)})


def build_model(config: BertConfig, spec: TaskSpec):
    """The Keras model for a config and task, with freshly initialised weights."""
    from tfbert import modeling

    return task_model(modeling.BertEncoder.from_bert_config(config), spec)


def task_model(encoder, spec: TaskSpec):
    """`encoder` with the head of `spec.task` (fresh head weights)."""
    from tfbert import modeling

    if spec.task == "encoder":
        return encoder
    if spec.task == "pretrain":
        return modeling.BertPretrainer(encoder, next_sentence=spec.next_sentence)
    if spec.task in ("classify", "pair"):
        return modeling.BertClassifier(encoder, len(spec.labels), multi_label=spec.multi_label)
    if spec.task == "ner":
        return modeling.BertTokenClassifier(encoder, len(spec.labels))
    return modeling.BertSpanQA(encoder)


def model_weights(model) -> dict:
    """`{variable path: numpy array}` of every weight, each once."""
    return {v.path: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in model.weights}


def assign_weights(model, tensors: dict, source: str) -> None:
    """Sets every variable of `model` from `tensors` (keyed by variable path).

    Raises a `ValueError` naming the tensor when one is missing, has the wrong shape, or
    is not used by the model.
    """
    variables = {v.path: v for v in model.weights}
    missing = sorted(set(variables) - set(tensors))
    if missing:
        raise ValueError(f"{source}: missing weights for {len(missing)} variables, "
                         f"first: {missing[:3]}")
    unused = sorted(set(tensors) - set(variables))
    if unused:
        raise ValueError(f"{source}: tensors the model does not use: {unused[:5]}"
                         + (f" and {len(unused) - 5} more" if len(unused) > 5 else ""))
    for path, variable in variables.items():
        value = tensors[path]
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"{source}: shape mismatch for {path!r}: the checkpoint has "
                f"{tuple(value.shape)}, the model expects {tuple(variable.shape)}")
        variable.assign(value.astype(variable.dtype))


def declared_lowercase(directory) -> bool:
    """Whether the checkpoint in `directory` is uncased, as its files declare it: tfbert's
    `task.json`, Hugging Face's `tokenizer_config.json` or `tokenizer.json`, keras-hub's
    `tokenizer.json`; else Google's release naming (`cased_L-12_...` vs `uncased_...`)."""

    def read(name):
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    if (task := read("task.json")) is not None:
        return bool(task.get("lowercase", True))
    if (tokenizer_config := read("tokenizer_config.json")) is not None:
        return bool(tokenizer_config.get("do_lower_case", True))
    if (tokenizer := read("tokenizer.json")) is not None:
        # keras-hub keeps it under "config", Hugging Face under "normalizer".
        section = tokenizer.get("config") or tokenizer.get("normalizer") or {}
        return bool(section.get("lowercase", True))
    base = os.path.basename(os.path.abspath(directory)).lower()
    return not (base.startswith("cased") or "_cased" in base or "-cased" in base)


def is_model_dir(path) -> bool:
    return os.path.isfile(os.path.join(path, "task.json"))


def read_task_spec(path) -> TaskSpec:
    """The `TaskSpec` of a model directory's `task.json` (no weights read)."""
    task_path = os.path.join(path, "task.json")
    try:
        with open(task_path, encoding="utf-8") as f:
            return TaskSpec.from_dict(json.load(f), source=task_path)
    except json.JSONDecodeError as err:
        raise ValueError(f"{task_path}: line {err.lineno}: invalid JSON ({err.msg})") from None


def read_model_dir(path):
    """Reads a tfbert model directory without building a model.

    Returns `(config, spec, tensors)`, the tensors keyed by variable path.
    """
    from safetensors.numpy import load_file

    config = BertConfig.from_json_file(os.path.join(path, "config.json"))
    spec = read_task_spec(path)
    weights_path = os.path.join(path, WEIGHTS_FILE)
    if not os.path.isfile(weights_path):
        raise ValueError(f"{path}: no {WEIGHTS_FILE}; expected the weights of a tfbert model")
    return config, spec, load_file(weights_path)


def save_model_dir(model, config: BertConfig, spec: TaskSpec, path, vocab_file=None) -> None:
    """Writes a tfbert model directory atomically: built beside `path`, then renamed.

    An existing model directory at `path` is replaced only once the new one is complete;
    any other non-empty directory there is an error (nothing of the user's is deleted).
    """
    if os.path.isdir(path) and os.listdir(path) and not is_model_dir(path):
        raise ValueError(f"{os.path.abspath(path)}: exists, is not empty and is not a tfbert "
                         "model directory; choose a new output directory")
    with staged_directory(path, replace=True) as staging:
        write_model_files(model, config, spec, staging, vocab_file)


def write_model_files(model, config: BertConfig, spec: TaskSpec, path, vocab_file=None) -> None:
    """Writes the model files into `path`, leaving anything else there (a training run's
    `checkpoints/`) alone. Each file is replaced atomically and `task.json`, which marks a
    model directory, comes last."""
    from safetensors.numpy import save_file

    if vocab_file and os.path.abspath(vocab_file) != os.path.abspath(
            os.path.join(path, "vocab.txt")):
        with atomic_file(os.path.join(path, "vocab.txt")) as staging:
            shutil.copyfile(vocab_file, staging)
    with atomic_file(os.path.join(path, "config.json")) as staging:
        config.to_json_file(staging)
    with atomic_file(os.path.join(path, WEIGHTS_FILE)) as staging:
        save_file(model_weights(model), staging)
    write_json(os.path.join(path, "task.json"), spec.to_dict())
