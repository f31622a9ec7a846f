"""Strings and labels as the `tf.data` pipeline a `TextClassifier` trains on: texts are
tokenized in chunks inside the pipeline, then grouped into batches of similar length."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfbert.task import TaskSpec

GROUP = 50       # batches tokenized (and, in training, sorted by length) together
BUCKET = 16      # batch widths are multiples of this (few shapes, few retraces)
SHUFFLE = 2048   # examples of a tf.data input shuffled together


def texts_of(x, pair: bool, name="x") -> tuple:
    """`(texts, pairs or None)` as lists of str from a list/array of texts or, for pair
    models, of `(text, pair)` tuples or a `(texts, pairs)` tuple of two lists."""
    if isinstance(x, str):
        raise ValueError(f"{name} must be a list of texts (one text: [text]). Received: a "
                         "string")
    if pair and isinstance(x, tuple) and len(x) == 2 and not isinstance(x[0], str):
        texts, pairs = _strings(x[0], f"{name}[0]"), _strings(x[1], f"{name}[1]")
        if len(texts) != len(pairs):
            raise ValueError(f"{name}: {len(texts)} texts but {len(pairs)} pairs")
        return texts, pairs
    items = list(np.asarray(x, dtype=object).reshape(len(x), -1)) if len(x) else []
    if pair:
        if not all(len(item) == 2 for item in items):
            raise ValueError(f"{name}: a pair model takes (text, pair) tuples or (texts, "
                             "pairs) lists")
        return (_strings([i[0] for i in items], name), _strings([i[1] for i in items], name))
    if items and len(items[0]) != 1:
        raise ValueError(f"{name}: a single-text model takes a list of strings. Received: "
                         f"rows of {len(items[0])}")
    return _strings([i[0] for i in items], name), None


def _strings(values, name) -> list:
    out = []
    for i, value in enumerate(values):
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if not isinstance(value, str):
            raise ValueError(f"{name}[{i}]: expected a string. Received: "
                             f"{type(value).__name__} {value!r:.40}")
        out.append(value)
    return out


def label_ids(y, labels, name="y") -> np.ndarray:
    """Label names or ids as int32 ids; a one-line error names the first bad one."""
    index = {label: i for i, label in enumerate(labels)}
    out = []
    for i, value in enumerate(np.asarray(y, dtype=object).reshape(-1)):
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if isinstance(value, str):
            if value not in index:
                raise ValueError(f"{name}[{i}]: label {value!r} is not one of the model's "
                                 f"labels {labels}")
            out.append(index[value])
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool) \
                and 0 <= value < len(labels):
            out.append(int(value))
        else:
            raise ValueError(f"{name}[{i}]: expected a label name or an id from 0 to "
                             f"{len(labels) - 1}. Received: {value!r}")
    return np.array(out, dtype="int32")


def dataset(tokenizer, x, y, spec: TaskSpec, batch_size: int, shuffle: bool, seed: int,
            keep_order: bool = False) -> tf.data.Dataset:
    """Batches of `({token_ids, segment_ids, padding_mask}, label ids)` (no labels when
    `y` is None and `x` is not a labelled dataset). `shuffle`: shuffle by `seed`; batches
    are grouped by length unless `keep_order` (prediction), which keeps the order of `x`."""
    pair, length = spec.task == "pair", spec.max_length
    if isinstance(x, tf.data.Dataset):
        if y is not None:
            raise ValueError("y must be None when x is a tf.data.Dataset (it yields "
                             "(text, label))")
        element = x.element_spec
        # (text, label) or ((text, pair), label); unlabelled: text or (text, pair).
        labelled = isinstance(element, tuple) and len(element) == 2 and (
            isinstance(element[0], tuple) if pair else True)
        texts_spec = element[0] if labelled else element
        for spec_ in (texts_spec if isinstance(texts_spec, tuple) else (texts_spec,)):
            if not isinstance(spec_, tf.TensorSpec) or spec_.dtype != tf.string or \
                    spec_.shape.rank != 0:
                raise ValueError(f"x: expected a dataset of single strings (text, label) "
                                 f"{'with (text, pair) pairs ' if pair else ''}— not "
                                 f"batched. Received elements {element}; call .unbatch()")
        data = x.map(_dataset_labels(spec.labels)) if labelled else x
    else:
        texts, pairs = texts_of(x, pair)
        if not texts:
            raise ValueError("x holds no texts")
        columns = (texts, pairs) if pair else texts
        labelled = y is not None
        if labelled:
            ids = label_ids(y, list(spec.labels))
            if len(ids) != len(texts):
                raise ValueError(f"x has {len(texts)} texts but y has {len(ids)} labels")
            data = tf.data.Dataset.from_tensor_slices((columns, ids))
        else:
            data = tf.data.Dataset.from_tensor_slices(columns)
    if isinstance(x, tf.data.Dataset):
        known = int(x.cardinality())
        count = known if known >= 0 else None   # (a filtered dataset's size is unknown)
    else:
        count = len(texts)
    if shuffle:
        data = data.shuffle(count or SHUFFLE, seed=seed, reshuffle_each_iteration=True)
    group = batch_size * GROUP

    def tokenize(*element):
        inputs, label = (element[0], element[1]) if labelled else (element[0] if len(
            element) == 1 else element, None)
        first, second = (inputs[0], inputs[1]) if pair else (inputs, None)
        # (group, longest) ids, -1 after each text's pieces; no more than a window holds.
        pieces = {"first": tokenizer.tokenize(first).to_tensor(-1)[:, :length]}
        if second is not None:
            pieces["second"] = tokenizer.tokenize(second).to_tensor(-1)[:, :length]
        if sort:
            # Shortest first within the group, so that each batch holds similar lengths.
            sizes = sum(tf.reduce_sum(tf.cast(p >= 0, tf.int32), 1) for p in pieces.values())
            order = tf.argsort(sizes, stable=True)
            pieces = {k: tf.gather(v, order) for k, v in pieces.items()}
            label = None if label is None else tf.gather(label, order)
        return (pieces, label) if labelled else pieces

    # Tokenize a group of batches per call; a group (a multiple of the batch size) is cut
    # into batches in order, so the number of batches is ceil(count / batch_size).
    sort = not keep_order
    data = data.batch(group).map(tokenize, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    pads = {k: tf.constant(-1, tf.int32) for k in (("first", "second") if pair
                                                      else ("first",))}
    padding = (pads, tf.constant(0, tf.int32)) if labelled else pads
    data = data.padded_batch(batch_size, padding_values=padding)
    if shuffle:
        data = data.shuffle(GROUP * 4, seed=seed, reshuffle_each_iteration=True)
    if count is not None:
        data = data.apply(tf.data.experimental.assert_cardinality(-(-count // batch_size)))

    def pack(*element):
        pieces = element[0]
        # (batch, width) ids padded with -1 -> (ids, lengths) per segment
        segments = [(pieces[k], tf.reduce_sum(tf.cast(pieces[k] >= 0, tf.int32), 1))
                    for k in sorted(pieces)]
        encoded = tokenizer.pack_dense(segments, length, pad_to_max_length=False)
        width = tf.shape(encoded["token_ids"])[1]
        target = tf.minimum((width + BUCKET - 1) // BUCKET * BUCKET, length)
        encoded = {k: tf.pad(v, [[0, 0], [0, target - width]]) for k, v in encoded.items()}
        return (encoded, element[1]) if labelled else encoded

    return data.map(pack, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _dataset_labels(labels):
    """A `tf.data` map turning string labels into ids (int labels pass through)."""
    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(list(labels)), tf.range(len(labels), dtype=tf.int32)), default_value=-1)

    def convert(inputs, label):
        if label.dtype == tf.string:
            ids = table.lookup(label)
            check = tf.debugging.assert_non_negative(
                ids, message=f"a label of the dataset is not one of {list(labels)}")
            with tf.control_dependencies([check]):
                label = tf.identity(ids)
        return inputs, tf.cast(label, tf.int32)

    return convert
