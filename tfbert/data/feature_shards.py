"""Fine-tuning features as TFRecord shards: what `tfbert features` writes and `tfbert
finetune --train DIR` streams, so that training data need not fit in memory.

A directory holds `shard-00000.tfrecord` ..., `settings.json` (what the features are made
with; a re-run must match it), `shards.json` (the shards finished so far, with their
SHA-256) and `manifest.json`, written last: the settings, the counts and every shard's
SHA-256 and rows. Each shard is written under a temporary name and renamed when complete,
so a killed run leaves no shard that a manifest vouches for but that differs from it, and
running it again skips the shards already made.

Each record is one training row, trimmed to its real length n (no padding is stored):
int64 `token_ids` and `segment_ids` (n values), and the targets the task trains on:
`labels` (classify/pair: one class id, or with multi-label a 0/1 per label; ner: n per-piece
tag ids, -1 where the loss skips), `start_positions` and `end_positions` (qa: one each).
"""

from __future__ import annotations

import os
import re

import numpy as np
import tensorflow as tf

from tfbert import textfile
from tfbert.atomic import atomic_file, sha256_file, write_json
from tfbert.data.pretraining import verify_shard_files
from tfbert.task import FINETUNE_TASKS, MAX_LENGTH, MIN_LENGTH

MANIFEST = "manifest.json"
SETTINGS_FILE = "settings.json"
DONE_FILE = "shards.json"
IGNORE = -1   # = tfbert.data.features.IGNORE: NER's padding target
_SHARD_NAME = re.compile(r"shard-\d{5}\.tfrecord")


def is_features_dir(path) -> bool:
    """Whether `path` is a directory that `tfbert features` writes into (finished or not)."""
    return os.path.isdir(path) and any(os.path.isfile(os.path.join(path, name))
                                       for name in (MANIFEST, SETTINGS_FILE))


def sequence_targets(task) -> tuple:
    """The targets with a sequence axis (one value per piece): NER's tags."""
    return ("labels",) if task == "ner" else ()


def _feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=np.asarray(values).ravel()))


def serialize_rows(inputs, targets, sequence_keys=()) -> list:
    """`inputs` `(rows, max_length)` arrays and `targets` (`(rows,)`, `(rows, labels)` or,
    for `sequence_keys`, `(rows, max_length)`) as one serialized `tf.train.Example` per
    row, each cut to the row's length (its `padding_mask` sum)."""
    out = []
    for row, n in enumerate(np.asarray(inputs["padding_mask"]).sum(axis=1)):
        features = {key: _feature(inputs[key][row, :n]) for key in ("token_ids", "segment_ids")}
        for key, array in targets.items():
            features[key] = _feature(array[row, :n] if key in sequence_keys else array[row])
        example = tf.train.Example(features=tf.train.Features(feature=features))
        # deterministic: the same bytes in every process, so a shard's SHA-256 is stable.
        out.append(example.SerializeToString(deterministic=True))
    return out


def write_shards(out_dir, settings: dict, chunks, facts=None, echo=print) -> dict:
    """Writes one shard per chunk of `chunks`, then `manifest.json`; returns the manifest.

    `chunks` yields `(examples, encode)`: how many input examples the chunk holds and a
    function giving its serialized rows and per-label row counts `(records, counts)`;
    `encode` is not called for a shard already complete from an earlier run with the same
    `settings`. `facts`: what else the manifest records about the data (set once the
    chunks are read)."""
    os.makedirs(out_dir, exist_ok=True)
    settings_path = os.path.join(out_dir, SETTINGS_FILE)
    if os.path.isfile(settings_path):
        previous = textfile.read_json(settings_path, "the settings of an earlier features run")
        if previous != settings:
            changed = sorted(k for k in set(previous) | set(settings)
                             if previous.get(k) != settings.get(k))
            raise ValueError(f"{out_dir}: holds features made with other settings "
                             f"({', '.join(changed[:4])} differ); use a new output directory")
    elif [n for n in os.listdir(out_dir) if not n.startswith(".")]:
        raise ValueError(f"{out_dir}: is not empty and holds no features run (no "
                         f"{SETTINGS_FILE}); choose a new or empty output directory")
    else:
        write_json(settings_path, settings)
    done_path = os.path.join(out_dir, DONE_FILE)
    done = textfile.read_json(done_path, "the shards finished so far") \
        if os.path.isfile(done_path) else {}
    shards = []
    for number, (examples, encode) in enumerate(chunks):
        name = f"shard-{number:05d}.tfrecord"
        path = os.path.join(out_dir, name)
        record = done.get(name)
        if _complete(record, name) and os.path.isfile(path) and \
                sha256_file(path) == record["sha256"]:
            shards.append(record)
            echo(f"{name}: already complete ({record['rows']} rows)")
            continue
        records, counts = encode()
        with atomic_file(path) as staging:
            try:
                with tf.io.TFRecordWriter(staging) as writer:
                    for serialized in records:
                        writer.write(serialized)
            except tf.errors.OpError as err:  # a full disk, a size limit
                raise OSError(f"{path}: cannot write the shard "
                              f"({textfile.first_line(err)})") from None
        record = {"file": name, "rows": len(records), "examples": examples,
                  "sha256": sha256_file(path), "label_counts": [int(c) for c in counts]}
        done[name] = record
        write_json(done_path, done)
        shards.append(record)
        echo(f"{name}: {len(records)} rows from {examples} examples")
    counts = np.sum([s["label_counts"] for s in shards], axis=0).astype("int64").tolist() \
        if shards and shards[0]["label_counts"] else []
    manifest = {"settings": settings, **(facts or {}), "rows": sum(s["rows"] for s in shards),
                "examples": sum(s["examples"] for s in shards), "label_counts": counts,
                "shards": shards}
    write_json(os.path.join(out_dir, MANIFEST), manifest)
    return manifest


def _complete(record, name) -> bool:
    return isinstance(record, dict) and record.get("file") == name and \
        isinstance(record.get("sha256"), str) and isinstance(record.get("rows"), int) and \
        isinstance(record.get("label_counts"), list)


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_manifest(out_dir, flag="--train") -> dict:
    """The `manifest.json` of a finished `tfbert features` directory, checked field by
    field (a hostile or damaged manifest gives a one-line error naming `flag` and it)."""
    path = os.path.join(out_dir, MANIFEST)
    where = f"{flag} {out_dir}"
    if not os.path.isfile(path):
        raise ValueError(f"{where}: no {MANIFEST}; the features are incomplete (re-run "
                         "tfbert features to finish them)")
    manifest = textfile.read_json(path, "a features manifest (an object)")
    settings, shards = manifest.get("settings"), manifest.get("shards")
    if not isinstance(settings, dict) or not isinstance(shards, list) or not shards:
        raise ValueError(f"{where}: {MANIFEST}: expected 'settings' (an object) and 'shards' "
                         "(a non-empty list)")
    labels = settings.get("labels")
    if settings.get("task") not in FINETUNE_TASKS or not isinstance(labels, list) or \
            not all(isinstance(x, str) for x in labels) or len(set(labels)) != len(labels):
        raise ValueError(f"{where}: {MANIFEST}: settings.task must be one of "
                         f"{FINETUNE_TASKS} and settings.labels a list of distinct strings")
    max_length = settings.get("max_length")
    # Bounds: batches are padded up to max_length, so a hostile value would size them.
    if not _integer(max_length) or not MIN_LENGTH <= max_length <= MAX_LENGTH or \
            not _integer(settings.get("pad_id")) or \
            not isinstance(settings.get("vocab_sha256"), str):
        raise ValueError(f"{where}: {MANIFEST}: settings.max_length must be an integer from "
                         f"{MIN_LENGTH} to {MAX_LENGTH}, with pad_id and vocab_sha256")
    for number, shard in enumerate(shards):
        if not (isinstance(shard, dict) and isinstance(shard.get("file"), str)
                and _SHARD_NAME.fullmatch(shard["file"]) and _integer(shard.get("rows"))
                and isinstance(shard.get("sha256"), str)):
            raise ValueError(f"{where}: {MANIFEST}: shards[{number}] must have 'file' "
                             "(shard-NNNNN.tfrecord), 'rows' and 'sha256'")
    if manifest.get("rows") != sum(s["rows"] for s in shards):
        raise ValueError(f"{where}: {MANIFEST}: 'rows' is not the sum of the shards' rows")
    counts = manifest.get("label_counts")
    if settings["task"] in ("classify", "pair") and not (
            isinstance(counts, list) and len(counts) == len(labels)
            and all(_integer(c) and c >= 0 for c in counts)):
        raise ValueError(f"{where}: {MANIFEST}: 'label_counts' must hold a count per label")
    return manifest


def verify_shards(out_dir, manifest, flag="--train") -> None:
    """Every shard is there and is the file `tfbert features` wrote (SHA-256), so a
    truncated or replaced shard stops training before its first step, not in the middle."""
    verify_shard_files(out_dir, manifest, "tfbert features", f"{flag} ")


def parse_rows(serialized, settings):
    """A batch of serialized rows `(n,)` as `(inputs, targets)`: ragged int32 `token_ids`,
    `segment_ids`, `padding_mask` `(n, (length))`; targets `(n,)`, `(n, labels)` or, for
    NER, ragged `(n, (length))`."""
    sequence = sequence_targets(settings["task"])
    ragged = tf.io.RaggedFeature(tf.int64)
    if settings["task"] == "qa":
        target_spec = {k: tf.io.FixedLenFeature([], tf.int64)
                       for k in ("start_positions", "end_positions")}
    elif sequence:
        target_spec = {"labels": ragged}
    elif settings.get("multi_label"):
        target_spec = {"labels": tf.io.FixedLenFeature([len(settings["labels"])], tf.int64)}
    else:
        target_spec = {"labels": tf.io.FixedLenFeature([], tf.int64)}
    parsed = tf.io.parse_example(serialized, {"token_ids": ragged, "segment_ids": ragged,
                                              **target_spec})
    parsed = {k: tf.cast(v, tf.int32) for k, v in parsed.items()}
    inputs = {"token_ids": parsed["token_ids"], "segment_ids": parsed["segment_ids"],
              "padding_mask": tf.ones_like(parsed["token_ids"])}
    return inputs, {k: parsed[k] for k in target_spec}
