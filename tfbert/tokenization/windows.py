"""Long texts as windows for classify and pair: one implementation in TF ops, run eagerly
for training, evaluation and the Keras predictor and traced into the SavedModel, so every
runtime reads the same window ids.

A text of more pieces than fit (`max_length` less `[CLS]`, `[SEP]` and, for pairs, the
pair text and its `[SEP]`) becomes windows that start `doc_stride` pieces apart, the last
one ending at the text's end or earlier, as QA windows a context. A pair keeps its second
text whole in every window (as QA keeps the question), up to half the window's room, more
when the first text leaves room for it; so an input that fits is packed exactly as
`BertTokenizer.pack` packs it, in one window.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def pack_windows(tokenizer, first, second=None, max_length=128, doc_stride=64,
                 pad_to_max_length=True):
    """`first` (and `second`) ragged `(batch, (pieces))` ids as windows.

    Returns `(inputs, document_index)`: the encoder's three int32 tensors `(windows,
    max_length)` (or the longest window when `pad_to_max_length=False`) and the text each
    window comes from, `(windows,)` int32, in order (a text's windows follow each other).
    """
    budget = max_length - 2 - (second is not None)   # pieces of text (and pair) per window
    if budget < 2:
        raise ValueError(f"max_length must leave room for the special tokens. "
                         f"Received: max_length={max_length}")
    length = tf.cast(first.row_lengths(), tf.int32)  # (batch,)
    if second is None:
        room = tf.fill(tf.shape(length), budget)
    else:
        pair_length = tf.cast(second.row_lengths(), tf.int32)
        pair_keep = tf.minimum(pair_length, tf.maximum(budget // 2, budget - length))
        room = budget - pair_keep                    # (batch,) pieces of the first text
    # A stride past the room would skip pieces; at least 1 (a pair may leave no room).
    stride = tf.maximum(tf.minimum(doc_stride, room), 1)
    windows = 1 + (tf.maximum(length - room, 0) + stride - 1) // stride  # (batch,)
    document = tf.repeat(tf.range(tf.shape(length)[0]), windows)          # (windows,)
    number = tf.range(tf.reduce_sum(windows)) - tf.gather(tf.cumsum(windows, exclusive=True),
                                                          document)
    offset = number * tf.gather(stride, document)
    keep = tf.minimum(tf.gather(length, document) - offset, tf.gather(room, document))
    # (windows, budget): each window's pieces, read from the flat ids; positions past
    # `keep` read the 0 appended at the end (pack_dense ignores them).
    flat = tf.concat([tf.cast(first.flat_values, tf.int32), [0]], 0)
    start = tf.gather(tf.cast(first.row_splits[:-1], tf.int32), document) + offset
    columns = tf.range(budget)[None, :]
    window_ids = tf.gather(flat, tf.where(columns < keep[:, None], start[:, None] + columns,
                                          tf.shape(flat)[0] - 1))
    segments = [(window_ids, keep)]
    if second is not None:
        pair_ids = tf.gather(second.to_tensor(shape=[None, max_length]), document)
        segments.append((pair_ids, tf.gather(pair_keep, document)))
    # Window and pair fit `budget` together, so pack_dense's longest-first trim cuts nothing.
    return tokenizer.pack_dense(segments, max_length, pad_to_max_length), document


def encode_windows(tokenizer, texts, pairs=None, max_length=128, doc_stride=64,
                   pad_to_max_length=True):
    """Strings in, `pack_windows` out (graph-safe)."""
    first = tokenizer.tokenize(texts)
    second = None if pairs is None else tokenizer.tokenize(pairs)
    return pack_windows(tokenizer, first, second, max_length, doc_stride, pad_to_max_length)


def window_arrays(tokenizer, texts, pairs=None, max_length=128, doc_stride=64):
    """`encode_windows` for lists of strings, as numpy: `(inputs, document_index)`, rows
    padded to `max_length`."""
    inputs, document = encode_windows(tokenizer, tf.constant(list(texts), tf.string),
                                      None if pairs is None
                                      else tf.constant(list(pairs), tf.string),
                                      max_length, doc_stride)
    return {k: v.numpy() for k, v in inputs.items()}, np.asarray(document, "int32")
