"""The tfbert model directory: `config.json`, `task.json`, `vocab.txt`, `model.safetensors`.

What `finetune`/`pretrain`/`convert` write and `export`/`predict`/`tfbert.load` read: the
model a config and task build, and its weights file (the task's schema is `tfbert.task`).
Weights are a safetensors file keyed by Keras variable path (`block_0/attention/query/
kernel`), so a directory is readable without Keras and loads without unpickling anything.
"""

from __future__ import annotations

import os
import shutil

import numpy as np

from tfbert.atomic import atomic_file, staged_directory, write_json
from tfbert.config import BertConfig
from tfbert.task.spec import POOLED_TASKS, TaskSpec, read_task_spec

WEIGHTS_FILE = "model.safetensors"


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
    # The head's dropout is the encoder's hidden dropout, as in google-research/bert and
    # Hugging Face (0.1 in every released checkpoint).
    if spec.task in POOLED_TASKS:
        return modeling.BertClassifier(encoder, len(spec.labels), multi_label=spec.multi_label,
                                       pooling=spec.pooling, dropout=encoder.dropout)
    if spec.task == "ner":
        return modeling.BertTokenClassifier(encoder, len(spec.labels), dropout=encoder.dropout)
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


def is_model_dir(path) -> bool:
    return os.path.isfile(os.path.join(path, "task.json"))


def encoder_parameters(config: BertConfig) -> int:
    """How many numbers the encoder of `config` holds (embeddings, blocks, pooler)."""
    h, i = config.hidden_size, config.intermediate_size
    embeddings = (config.vocab_size + config.max_position_embeddings
                  + config.type_vocab_size) * h + 2 * h
    block = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h
    return embeddings + config.num_layers * block + h * h + h


def expected_shapes(config: BertConfig, spec: TaskSpec) -> dict:
    """`{variable path: shape}` of the model `build_model(config, spec)` builds, worked
    out without building it: the schema a weights file is checked against before use."""
    h, i = config.hidden_size, config.intermediate_size
    shapes = {"embeddings/token_embedding/embeddings": (config.vocab_size, h),
              "embeddings/segment_embedding/embeddings": (config.type_vocab_size, h),
              "embeddings/position_embeddings": (config.max_position_embeddings, h),
              "embeddings/layer_norm/gamma": (h,), "embeddings/layer_norm/beta": (h,),
              "pooler/kernel": (h, h), "pooler/bias": (h,)}
    for n in range(config.num_layers):
        for part in ("attention/query", "attention/key", "attention/value", "attention_output"):
            shapes.update({f"block_{n}/{part}/kernel": (h, h), f"block_{n}/{part}/bias": (h,)})
        shapes.update({f"block_{n}/intermediate/kernel": (h, i),
                       f"block_{n}/intermediate/bias": (i,),
                       f"block_{n}/output/kernel": (i, h), f"block_{n}/output/bias": (h,)})
        for norm in ("attention_layer_norm", "output_layer_norm"):
            shapes.update({f"block_{n}/{norm}/gamma": (h,), f"block_{n}/{norm}/beta": (h,)})
    if spec.task == "pretrain":
        shapes.update({"masked_lm/output_bias": (config.vocab_size,),
                       "masked_lm/transform/kernel": (h, h), "masked_lm/transform/bias": (h,),
                       "masked_lm/layer_norm/gamma": (h,), "masked_lm/layer_norm/beta": (h,)})
        if spec.next_sentence:
            shapes.update({"next_sentence/kernel": (h, 2), "next_sentence/bias": (2,)})
    elif spec.task in ("classify", "pair", "ner"):
        shapes.update({"classifier/kernel": (h, len(spec.labels)),
                       "classifier/bias": (len(spec.labels),)})
    elif spec.task == "qa":
        shapes.update({"span_classifier/kernel": (h, 2), "span_classifier/bias": (2,)})
    return shapes


def check_tensors(shapes: dict, config: BertConfig, spec: TaskSpec, source: str) -> None:
    """Every tensor the config and task call for is there with its shape, and nothing
    else: a `ValueError` naming the first tensor that differs. `shapes`: `{name: shape}`
    (from a weights file's header, before anything is read)."""
    expected = expected_shapes(config, spec)
    missing = sorted(set(expected) - set(shapes))
    if missing:
        raise ValueError(f"{source}: no tensor {missing[0]!r}, which config.json and task.json "
                         f"({spec.task}) call for" + (f" ({len(missing)} missing)"
                                                      if len(missing) > 1 else ""))
    unused = sorted(set(shapes) - set(expected))
    if unused:
        raise ValueError(f"{source}: tensor {unused[0]!r} is not part of a {spec.task} model "
                         "of this config.json")
    for name, shape in expected.items():
        if tuple(shapes[name]) != shape:
            what = "task.json's labels" if name.startswith("classifier/") else "config.json"
            raise ValueError(f"{source}: {name!r} has shape {tuple(shapes[name])}; "
                             f"{what} expects shape {shape}")


def check_config_fits(config: BertConfig, numbers: int, source: str, config_source: str):
    """Refuses a config that would allocate far more than its weights hold (a hostile or
    mismatched `vocab_size=10**12`). Small differences are left to the per-tensor shape
    check, which names the tensor."""
    if encoder_parameters(config) > 2 * numbers + (1 << 20):
        raise ValueError(
            f"{source}: holds {numbers:,} numbers, but {config_source} describes an encoder "
            f"of {encoder_parameters(config):,}; expected the weights that belong to this "
            "config")


def read_weights(path, config: BertConfig | None = None, spec: TaskSpec | None = None) -> dict:
    """`{name: array}` from a safetensors file, checked before anything is allocated.

    safetensors holds raw arrays behind a JSON header (no code, nothing unpickled); its
    reader checks that the header's offsets cover the file exactly. With `config`, the
    shapes it implies must fit in the file, so a config that asks for more memory than its
    weights hold (vocab_size=10**12) fails here rather than when the model is built; with
    `spec` too, the header must hold exactly the tensors of that model (`check_tensors`).
    """
    from safetensors import SafetensorError, safe_open

    path = os.fspath(path)
    try:
        with safe_open(path, framework="np") as f:
            shapes = {n: tuple(f.get_slice(n).get_shape()) for n in f.keys()}
            if config is not None:
                numbers = sum(int(np.prod(s, dtype=np.int64)) for s in shapes.values())
                check_config_fits(config, numbers, path, "config.json")
            if config is not None and spec is not None:
                check_tensors(shapes, config, spec, path)
            return {n: f.get_tensor(n) for n in shapes}
    except SafetensorError as err:
        raise ValueError(f"{path}: not a readable safetensors file ({err}); expected model "
                         "weights (is the file truncated?)") from None


def read_model_dir(path):
    """Reads a tfbert model directory without building a model.

    Returns `(config, spec, tensors)`, the tensors keyed by variable path.
    """
    config = BertConfig.from_json_file(os.path.join(path, "config.json"))
    spec = read_task_spec(path)
    weights_path = os.path.join(path, WEIGHTS_FILE)
    if not os.path.isfile(weights_path):
        raise ValueError(f"{path}: no {WEIGHTS_FILE}; expected the weights of a tfbert model")
    return config, spec, read_weights(weights_path, config, spec)


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
