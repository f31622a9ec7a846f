"""The training data of `finetune`: a task file read and encoded in memory, or a `tfbert
features` directory whose shards are streamed with tf.data (data that need not fit in
memory). Both give `finetune` the same `TrainingSet`, and both give the `Trainer` what it
needs to resume: `rows // batch` batches per epoch in an order fixed by `(seed, epoch)`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable

import numpy as np
import tensorflow as tf

from tfbert.data import feature_shards
from tfbert.task import POOLED_TASKS, detect_tag_scheme
from tfbert.training import tasks
from tfbert.training.class_weights import label_counts
from tfbert.training.feature_files import note, vocab_digest

# Rows a streamed epoch is shuffled over (serialized, ~0.5 KB each at length 128), after
# the shards are put in an order of their own: memory stays bounded whatever the data.
SHUFFLE_ROWS = 16_384


@dataclasses.dataclass
class TrainingSet:
    """What `finetune` uses of its training data. `make_dataset(seed)` gives
    `Trainer.fit`'s `make_dataset(epoch, batch)`; `label_counts` the rows of each label
    (classify/pair, for `--class-weights balanced`); `source` the file read."""

    labels: list
    size: int
    note: str
    label_counts: list
    no_answer: bool
    tag_scheme: str
    first_iob1: tuple | None
    source: str
    make_dataset: Callable


def in_memory(job, tokenizer) -> TrainingSet:
    """`job.train`, a task file, read once (its labels, then its encoding) into memory."""
    examples, summary = tasks.read_task_examples(job.task, job.train, job.columns,
                                                 job.multi_label, job.label_separator)
    labels = tasks.labels_of(job.task, examples)
    if job.multi_label and not labels:
        raise ValueError(f"--train {job.train}: no example has a label in column "
                         f"{job.columns.label!r}; expected lists of labels")
    train = tasks.encode_task_data(job.task, job.train, examples, summary, tokenizer, labels,
                                   job.max_length, job.doc_stride, job.max_query_length,
                                   bool(job.window_pooling))
    scheme, first_iob1 = detect_tag_scheme(train.examples) if job.task == "ner" \
        else ("", None)
    return TrainingSet(
        labels, train.size, train.note,
        label_counts(train.targets["labels"], len(labels)) if job.task in POOLED_TASKS else [],
        job.task == "qa" and any(e.is_impossible or not e.answers for e in train.examples),
        scheme, first_iob1, job.train,
        # Only NER's targets have a sequence axis (a multi-label target row is per label).
        lambda seed: tasks.epoch_datasets(
            train, seed, sequence_targets=feature_shards.sequence_targets(job.task)))


def streamed(job, tokenizer) -> TrainingSet:
    """`job.train`, a `tfbert features` directory: its manifest checked against the run
    and every shard's SHA-256 verified (before the first step), then streamed."""
    manifest = feature_shards.read_manifest(job.train)
    check_features(job.train, manifest, job, tokenizer)
    feature_shards.verify_shards(job.train, manifest)
    settings = manifest["settings"]
    first_iob1 = manifest.get("first_iob1")
    return TrainingSet(
        list(settings["labels"]), manifest["rows"], note(job.train, manifest),
        list(manifest.get("label_counts") or []), bool(manifest.get("no_answer", False)),
        manifest.get("tag_scheme", "") if job.task == "ner" else "",
        tuple(first_iob1) if first_iob1 else None, settings["train"]["path"],
        lambda seed: streamed_datasets(job.train, manifest, seed))


def check_features(train_dir, manifest, job, tokenizer) -> None:
    """The features in `train_dir` are what this run would have encoded from the task file:
    same task, vocabulary (by SHA-256 of its tokens), casing, lengths, labels and windows.
    The first difference is a one-line error naming --train and both values."""
    settings = manifest["settings"]
    where = f"--train {train_dir}"
    model = f"--init {job.init}" if job.init else f"--vocab {job.vocab}"
    if settings["task"] != job.task:
        raise ValueError(f"{where}: holds features for --task {settings['task']}, not --task "
                         f"{job.task}; make them with tfbert features --task {job.task}")
    if settings["vocab_sha256"] != vocab_digest(tokenizer):
        raise ValueError(f"{where}: was encoded with another vocabulary (SHA-256 "
                         f"{settings['vocab_sha256'][:12]}…) than {model} "
                         f"({vocab_digest(tokenizer)[:12]}…); make the features with {model}")
    if settings.get("lowercase") != tokenizer.lowercase:
        cased = {True: "uncased", False: "cased"}
        raise ValueError(f"{where}: was encoded {cased.get(settings.get('lowercase'), '?')}, "
                         f"but {model} is {cased[tokenizer.lowercase]}; make the features "
                         "with the same casing")
    windows = job.task in ("qa", "ner") or bool(job.window_pooling)
    compared = [("--max-length", "max_length", job.max_length),
                ("--multi-label", "multi_label", job.multi_label),
                ("--window-pooling/--doc-stride windows", "windows", bool(job.window_pooling))]
    if windows:
        compared.append(("--doc-stride", "doc_stride", job.doc_stride))
    if job.task == "qa":
        compared.append(("--max-query-length", "max_query_length", job.max_query_length))
    for flag, key, value in compared:
        if settings.get(key) != value:
            raise ValueError(f"{where}: was made with {flag} {settings.get(key)!r}, this run "
                             f"has {value!r}; expected the same (make the features again, or "
                             "train with theirs)")
    if job.task in ("classify", "ner") and not settings["labels"]:
        raise ValueError(f"{where}: its manifest lists no labels; expected the labels of the "
                         "training file")


def streamed_datasets(train_dir, manifest, seed, bucket=16, group=50,
                      shuffle_rows=SHUFFLE_ROWS):
    """`make_dataset(epoch, batch)` for `Trainer.fit` over the shards of `train_dir`, with
    `tasks.epoch_datasets`' batches: length-grouped, cut to the longest row rounded up
    to a multiple of `bucket`, `rows // batch` of them per epoch.

    Per epoch, from `(seed, epoch)`: the shards in an order, their rows interleaved and
    shuffled in a buffer of `shuffle_rows`, the first `rows // batch * batch` kept; each
    window of `batch * group` rows is sorted by length, cut into batches, and its batches
    shuffled. Every step is deterministic, so a resumed run that skips the batches it has
    done sees the batches an uninterrupted one would.
    """
    settings = manifest["settings"]
    paths = [os.path.join(train_dir, s["file"]) for s in manifest["shards"]]
    rows, full, pad_id = manifest["rows"], settings["max_length"], settings["pad_id"]
    sequence = feature_shards.sequence_targets(settings["task"])
    # the axes of a row's target after the batch axis: a multi-label row has one per label
    extra = {"labels": [len(settings["labels"])] if settings.get("multi_label") else [],
             "start_positions": [], "end_positions": []}

    def make_dataset(epoch, batch):
        rng = np.random.default_rng([seed, epoch])
        order = [paths[i] for i in rng.permutation(len(paths))]
        shuffle_seed = int(rng.integers(2 ** 31 - 1))
        records = tf.data.Dataset.from_tensor_slices(order).interleave(
            tf.data.TFRecordDataset, cycle_length=min(len(order), 8), block_length=1)
        records = records.shuffle(shuffle_rows, seed=shuffle_seed) \
            .take(rows // batch * batch)   # the short last batch dropped before grouping

        def window_batches(index, serialized):
            # serialized: (window,) rows, window a multiple of batch (take above)
            inputs, targets = feature_shards.parse_rows(serialized, settings)
            by_length = tf.argsort(inputs["token_ids"].row_lengths(), stable=True)
            count = tf.shape(by_length)[0] // batch
            # (count, batch) row indices, the batches in an order from (seed, epoch, window)
            batches = tf.reshape(by_length, [count, batch])
            noise = tf.random.stateless_uniform(
                [count], seed=tf.stack([tf.constant(shuffle_seed, tf.int64), index]))
            picked = tf.reshape(tf.gather(batches, tf.argsort(noise)), [-1])

            def cut(tensor, value):  # (window, ...) -> (count, batch, ...), padded densely
                tensor = tf.gather(tensor, picked)
                if isinstance(tensor, tf.RaggedTensor):   # (window, (length))
                    tensor = tensor.to_tensor(value, shape=[None, full])
                return tf.reshape(tensor, tf.concat([[count, batch], tf.shape(tensor)[1:]], 0))

            inputs = {"token_ids": cut(inputs["token_ids"], pad_id),
                      "segment_ids": cut(inputs["segment_ids"], 0),
                      "padding_mask": cut(inputs["padding_mask"], 0)}
            targets = {k: cut(v, feature_shards.IGNORE) for k, v in targets.items()}
            return tf.data.Dataset.from_tensor_slices((inputs, targets))

        def trim(inputs, targets):
            # (batch, full) -> (batch, width): the longest row rounded up, as epoch_datasets
            longest = tf.reduce_max(tf.reduce_sum(inputs["padding_mask"], axis=1))
            width = tf.minimum((longest + bucket - 1) // bucket * bucket, full)
            # (the batch size stated, as the in-memory path's batches have it)
            return ({k: tf.ensure_shape(v[:, :width], [batch, None]) for k, v in inputs.items()},
                    {k: tf.ensure_shape(v[:, :width] if k in sequence else v,
                                        [batch] + ([None] if k in sequence else extra[k]))
                     for k, v in targets.items()})

        return records.batch(batch * group).enumerate().flat_map(window_batches).map(trim)

    return make_dataset
