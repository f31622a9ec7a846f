"""`Checkpoint`: what every reader returns, in tfbert's terms, whatever the source format."""

from __future__ import annotations

import dataclasses
import json
import os

from tfbert import textfile
from tfbert.config import BertConfig
from tfbert.convert import names
from tfbert.task import TaskSpec


@dataclasses.dataclass
class Checkpoint:
    """Weights keyed by tfbert variable path, with the config and task they belong to.

    `fresh` lists variable paths the source did not hold and that keep their initial
    values (a Hugging Face model saved without its pooler, say); `source` names the file
    or directory for messages.
    """

    config: BertConfig
    spec: TaskSpec
    tensors: dict
    source: str
    vocab_file: str | None = None
    fresh: tuple = ()
    format: str = ""  # "tfbert", "hf", "google" or "keras-hub", set by read_checkpoint

    def restricted_to(self, task: str) -> "Checkpoint":
        """The same checkpoint seen as a model of `task` (only `encoder` or its own)."""
        if task == self.spec.task:
            return self
        if task != "encoder":
            if self.spec.task == "encoder":
                what = ("holds an encoder only (no masked-LM or next-sentence weights)"
                        if task == "pretrain" else "holds an encoder only (no task head)")
                raise ValueError(f"{self.source}: {what}, so it cannot be loaded as task "
                                 f"{task!r}; expected task 'encoder' (or None)")
            raise ValueError(
                f"{self.source}: holds a {self.spec.task!r} model, which cannot be loaded "
                f"as {task!r}. Expected task 'encoder' or {self.spec.task!r}")
        keep = {row.tfbert for row in names.encoder_rows(self.config.num_layers)}
        return dataclasses.replace(
            self,
            # (pooling stays: the encoder was trained under that head)
            # What the encoder reads keeps (length, casing, windows); what the head decided
            # (labels, calibration, thresholds) goes with the head.
            spec=TaskSpec(task="encoder", max_length=self.spec.max_length,
                          lowercase=self.spec.lowercase, doc_stride=self.spec.doc_stride,
                          max_query_length=self.spec.max_query_length,
                          pooling=self.spec.pooling),
            tensors={k: v for k, v in self.tensors.items() if k in keep},
            fresh=tuple(k for k in self.fresh if k in keep))


def from_source_names(tensors: dict, rows, column: str, source: str,
                      optional_prefixes=()) -> tuple[dict, tuple]:
    """Renames `{source name: array}` to tfbert paths using one column of `rows`.

    Returns `(tensors by tfbert path, paths absent from the source)`. A row absent from
    the source is an error unless its tfbert path starts with one of `optional_prefixes`.
    """
    out, fresh, missing = {}, [], []
    transpose_field = f"{column}_transpose"
    for row in rows:
        name = getattr(row, column)
        if name in tensors:
            value = tensors[name]
            out[row.tfbert] = value.T if getattr(row, transpose_field) else value
        elif row.tfbert.startswith(tuple(optional_prefixes)):
            fresh.append(row.tfbert)
        else:
            missing.append(name)
    if missing:
        raise ValueError(f"{source}: missing tensor {missing[0]!r}"
                         + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
                         + "; expected a BERT checkpoint with these variable names")
    return out, tuple(fresh)


def to_source_names(tensors: dict, rows, column: str) -> dict:
    """The inverse of `from_source_names`: tfbert paths to one source's names."""
    out = {}
    for row in rows:
        name = getattr(row, column)
        if name is None or row.tfbert not in tensors:
            continue
        value = tensors[row.tfbert]
        out[name] = value.T if getattr(row, f"{column}_transpose") else value
    return out


def check_vocab(config: BertConfig, vocab_file: str | None, source: str) -> None:
    """A vocabulary whose size differs from the embedding matrix is an error."""
    if not vocab_file:
        return
    size = sum(1 for _ in textfile.lines(vocab_file))
    if size != config.vocab_size:
        raise ValueError(
            f"{source}: vocabulary mismatch: {vocab_file} has {size} tokens but the "
            f"checkpoint's token embedding has {config.vocab_size} rows "
            "(tensor 'word_embeddings'); use the vocab.txt released with this checkpoint")


def read_json_config(directory) -> dict | None:
    """`directory/config.json` as a dict, or None when absent or not a JSON object."""
    path = os.path.join(directory, "config.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
