"""`tfbert.load` and `tfbert.convert.convert`: one entry point for every checkpoint format."""

from __future__ import annotations

import dataclasses
import os

from tfbert import model_dir
from tfbert.task import TASKS
from tfbert.atomic import staged_directory
from tfbert.convert.checkpoint import Checkpoint, check_vocab
from tfbert.convert.google import is_google_dir, read_google_checkpoint, write_google_checkpoint
from tfbert.convert.huggingface import is_hf_dir, read_hf_dir, write_hf_dir
from tfbert.convert.keras_hub import is_keras_hub_preset, read_keras_hub_preset
from tfbert.registry import checkpoint_path

FORMATS = ("tfbert", "hf", "google")


def detect_format(path) -> str:
    """`tfbert`, `hf`, `google` or `keras-hub` (`path` may be a checkpoint name); a
    `ValueError` says what was expected."""
    path = checkpoint_path(path)
    if os.path.isdir(path) and model_dir.is_model_dir(path):
        return "tfbert"
    if os.path.isdir(path) and is_keras_hub_preset(path):
        return "keras-hub"
    if os.path.isdir(path) and is_hf_dir(path):
        return "hf"
    if is_google_dir(path):
        return "google"
    raise ValueError(
        f"{path}: not a BERT checkpoint. Expected a tfbert model directory (task.json), a "
        "Hugging Face directory (config.json + model.safetensors), a Google TF1 directory "
        "(bert_config.json + bert_model.ckpt.*) or a keras-hub BertBackbone preset")


def read_checkpoint(path, parameter: str | None = None) -> Checkpoint:
    """Any supported source (a path or a checkpoint name, `tfbert.presets`) as a
    `Checkpoint` in tfbert's variable names; `parameter` names the argument in errors."""
    path = checkpoint_path(path, parameter)
    fmt = detect_format(path)
    if fmt == "tfbert":
        config, spec, tensors = model_dir.read_model_dir(path)
        vocab = os.path.join(path, "vocab.txt")
        vocab = vocab if os.path.isfile(vocab) else None
        check_vocab(config, vocab, path)
        return Checkpoint(config, spec, tensors, source=path, vocab_file=vocab, format=fmt)
    reader = {"hf": read_hf_dir, "google": read_google_checkpoint,
              "keras-hub": read_keras_hub_preset}[fmt]
    checkpoint = reader(path)
    # Other formats record no input length; tfbert's default may not exceed the positions.
    spec = dataclasses.replace(checkpoint.spec, max_length=min(
        checkpoint.spec.max_length, checkpoint.config.max_position_embeddings))
    return dataclasses.replace(checkpoint, spec=spec, format=fmt)


def declared_pooling(path) -> str:
    """The pooling the checkpoint at `path` was trained with: a tfbert directory's
    `task.json`, a sentence-transformers directory's `modules.json`, else "cls"."""
    from tfbert.convert.huggingface import sentence_pooling

    path = checkpoint_path(path)
    if not os.path.isdir(path):
        return "cls"
    if model_dir.is_model_dir(path):
        return model_dir.read_task_spec(path).pooling
    return sentence_pooling(path) or "cls"


def model_from_checkpoint(checkpoint: Checkpoint):
    """Builds the Keras model of the checkpoint's task and sets its weights."""
    model = model_dir.build_model(checkpoint.config, checkpoint.spec)
    tensors = dict(checkpoint.tensors)
    if checkpoint.fresh:
        initial = model_dir.model_weights(model)
        tensors.update({path: initial[path] for path in checkpoint.fresh})
    model_dir.assign_weights(model, tensors, source=checkpoint.source)
    return model


def load(path, task: str | None = None):
    """Loads any supported BERT checkpoint as a Keras model.

    A tfbert model directory gives the model its `task.json` names; a fine-tuned Hugging
    Face or Google checkpoint gives its task model (`BertClassifier`, ...); a bare
    pre-trained checkpoint gives the `BertEncoder` (`task="pretrain"` gives the
    `BertPretrainer` with the masked-LM and next-sentence weights, when the checkpoint
    has them). `task="encoder"` always gives the encoder.

    Example:
    >>> encoder = tfbert.load("uncased_L-12_H-768_A-12")   # doctest: +SKIP
    >>> encoder(inputs)["pooled_output"]                   # doctest: +SKIP
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}. Received: task={task!r}")
    checkpoint = read_checkpoint(path, "path")
    if task is None:
        bare = checkpoint.format != "tfbert" and checkpoint.spec.task == "pretrain"
        task = "encoder" if bare else checkpoint.spec.task
    return model_from_checkpoint(checkpoint.restricted_to(task))


def write_checkpoint(checkpoint: Checkpoint, dst, to: str = "tfbert") -> None:
    """Writes `checkpoint` to `dst` in format `to`; `dst` appears only once complete."""
    if to not in FORMATS:
        raise ValueError(f"to must be one of {FORMATS}. Received: to={to!r}")
    if to == "tfbert":
        model = model_from_checkpoint(checkpoint)
        model_dir.save_model_dir(model, checkpoint.config, checkpoint.spec, dst,
                                 vocab_file=checkpoint.vocab_file)
        return
    if checkpoint.spec.pooling != "cls" and checkpoint.spec.task != "encoder":
        raise ValueError(
            f"{checkpoint.source}: a {checkpoint.spec.task} model with "
            f"{checkpoint.spec.pooling} pooling has no {to} equivalent (that format's "
            "classifier head reads the [CLS] pooler); expected a [CLS] classifier. Export "
            "this one with `tfbert export` (SavedModel, TFLite)")
    with staged_directory(dst) as staging:
        (write_hf_dir if to == "hf" else write_google_checkpoint)(checkpoint, staging)


def convert(src, dst, to: str = "tfbert") -> Checkpoint:
    """Converts any supported checkpoint at `src` into format `to` at `dst`."""
    checkpoint = read_checkpoint(src)
    write_checkpoint(checkpoint, dst, to=to)
    return checkpoint


def describe(path) -> dict:
    """What `tfbert info` prints: format, task, config, vocabulary and parameter counts."""
    checkpoint = read_checkpoint(path)
    config = checkpoint.config
    parts: dict[str, int] = {}
    for name, value in checkpoint.tensors.items():
        head = name.split("/", 1)[0]
        part = "blocks" if head.startswith("block_") else head
        parts[part] = parts.get(part, 0) + int(value.size)
    vocab_size = None
    if checkpoint.vocab_file:
        with open(checkpoint.vocab_file, encoding="utf-8") as f:
            vocab_size = sum(1 for _ in f)
    return {
        "path": checkpoint.source,   # (a checkpoint name as its directory)
        "format": checkpoint.format,
        "task": checkpoint.spec.to_dict(),
        "config": config.to_dict(),
        "parameters": {"total": sum(parts.values()), **parts},
        "vocab_file": checkpoint.vocab_file,
        "vocab_size": vocab_size,
        "untrained": list(checkpoint.fresh),
    }

