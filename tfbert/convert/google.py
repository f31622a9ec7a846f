"""google-research/bert TF1 checkpoints (`bert_config.json` + `bert_model.ckpt.*`)."""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import shutil

import numpy as np

from tfbert.config import BertConfig
from tfbert.convert import names
from tfbert.convert.checkpoint import Checkpoint, check_vocab, from_source_names, to_source_names
from tfbert.model_dir import check_config_fits
from tfbert.task import TaskSpec
from tfbert.tokenization.casing import declared_lowercase
from tfbert.textfile import first_line

CHECKPOINT_PREFIX = "bert_model.ckpt"


def _is_training_state(name: str) -> bool:
    """Optimizer slots and step counters saved next to the weights."""
    last = name.rsplit("/", 1)[-1]
    return name == "global_step" or last in ("adam_m", "adam_v", "Adam", "Adam_1") \
        or name.startswith("good_steps") or name.startswith("loss_scale")


def find_checkpoint(path) -> tuple[str, str]:
    """`(bert_config.json path, checkpoint prefix)` for a directory or a prefix."""
    if os.path.isfile(path + ".index"):
        directory, prefix = os.path.dirname(path) or ".", path
    elif os.path.isdir(path):
        directory = path
        standard = os.path.join(path, CHECKPOINT_PREFIX)
        indexes = sorted(glob.glob(os.path.join(path, "*.index")))
        if os.path.isfile(standard + ".index"):
            prefix = standard
        elif indexes:
            prefix = indexes[-1][: -len(".index")]
        else:
            raise ValueError(f"{path}: no TF checkpoint (*.index); expected bert_model.ckpt.*")
    else:
        raise ValueError(f"{path}: not a directory or checkpoint prefix")
    config = os.path.join(directory, "bert_config.json")
    if not os.path.isfile(config):
        raise ValueError(f"{directory}: no bert_config.json beside the checkpoint")
    return config, prefix


def is_google_dir(path) -> bool:
    try:
        find_checkpoint(path)
    except ValueError:
        return False
    return True


def read_google_checkpoint(path) -> Checkpoint:
    """Reads a TF1 BERT checkpoint by variable name (no graph, no TF1 code needed)."""
    import tensorflow as tf

    config_path, prefix = find_checkpoint(path)
    config = BertConfig.from_json_file(config_path)
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = {name: shape for name, shape in reader.get_variable_to_shape_map().items()
                  if not _is_training_state(name)}
        # The index (the header) gives the shapes; check them against the data files and
        # the config before reading, so a damaged or hostile index allocates nothing.
        numbers = sum(int(np.prod(s, dtype=np.int64)) for s in shapes.values())
        data_bytes = sum(os.path.getsize(f) for f in glob.glob(prefix + ".data-*"))
        if numbers * 2 > data_bytes:
            raise ValueError(f"{prefix}: the index lists {numbers:,} numbers but the data "
                             f"files hold {data_bytes:,} bytes; expected a complete checkpoint "
                             "(truncated?)")
        check_config_fits(config, numbers, prefix, config_path)
        tensors = {name: reader.get_tensor(name) for name in shapes}
    except tf.errors.OpError as err:
        raise ValueError(f"{prefix}: unreadable TF checkpoint ({first_line(err)}); expected "
                         "bert_model.ckpt.index and .data-* files (truncated?)") from None
    if "output_weights" in tensors:
        num = tensors["output_weights"].shape[0]
        spec = TaskSpec(task="classify", labels=tuple(str(i) for i in range(num)))
    elif "cls/squad/output_weights" in tensors:
        spec = TaskSpec(task="qa")
    elif "cls/predictions/output_bias" in tensors:
        spec = TaskSpec(task="pretrain",
                        next_sentence="cls/seq_relationship/output_weights" in tensors)
    else:
        spec = TaskSpec(task="encoder")
    spec = dataclasses.replace(
        spec, lowercase=declared_lowercase(os.path.dirname(os.path.abspath(prefix))))
    rows = names.task_rows(spec.task, config.num_layers, spec.next_sentence)
    unused = sorted(set(tensors) - {row.google for row in rows})
    if unused:
        raise ValueError(f"{prefix}: variables that are not part of a BERT {spec.task} "
                         f"model: {unused[:5]}")
    ours, fresh = from_source_names(tensors, rows, "google", prefix)
    vocab = os.path.join(os.path.dirname(config_path), "vocab.txt")
    vocab = vocab if os.path.isfile(vocab) else None
    check_vocab(config, vocab, prefix)
    return Checkpoint(config, spec, ours, source=prefix, vocab_file=vocab, fresh=fresh)


def write_google_checkpoint(checkpoint: Checkpoint, path) -> None:
    """Writes `bert_config.json`, `bert_model.ckpt.*` and `vocab.txt` as the original
    release lays them out, readable by google-research/bert's `init_from_checkpoint`."""
    import tensorflow as tf

    spec, config = checkpoint.spec, checkpoint.config
    google_config = config.to_google_dict()  # raises for configs Google cannot express
    rows = names.task_rows(spec.task, config.num_layers, spec.next_sentence)
    tensors = to_source_names(checkpoint.tensors, rows, "google")
    os.makedirs(path, exist_ok=True)
    prefix = os.path.join(path, CHECKPOINT_PREFIX)
    keys = sorted(tensors)
    tf.raw_ops.SaveV2(
        prefix=prefix, tensor_names=keys, shape_and_slices=[""] * len(keys),
        tensors=[tf.constant(np.ascontiguousarray(tensors[k])) for k in keys])
    with open(os.path.join(path, "checkpoint"), "w", encoding="utf-8") as f:
        f.write(f'model_checkpoint_path: "{CHECKPOINT_PREFIX}"\n'
                f'all_model_checkpoint_paths: "{CHECKPOINT_PREFIX}"\n')
    with open(os.path.join(path, "bert_config.json"), "w", encoding="utf-8") as f:
        json.dump(google_config, f, indent=2)
        f.write("\n")
    if checkpoint.vocab_file:
        shutil.copyfile(checkpoint.vocab_file, os.path.join(path, "vocab.txt"))
