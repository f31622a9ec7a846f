"""A QA SavedModel's n-best answers as TensorFlow ops (as `tfbert.task.span_candidates`):
the best spans of every window, merged across an example's windows, a character range
that overlapping windows both hold listed once."""

from __future__ import annotations

import tensorflow as tf


def qa_nbest_spans(start_logits, end_logits, example, char_spans, num_examples, max_pieces,
                   n_best):
    """Per example, its `n_best` best spans over its windows (distinct character ranges),
    best first: on equal scores the earlier window, then the earlier piece.

    `start_logits`/`end_logits` `(windows, length)`, `example` `(windows,)` (ascending),
    `char_spans` `(windows, length, 2)` (-1 outside the context). Returns `(found, starts,
    ends, scores, probabilities)`, each `(batch, n_best)`: past an example's last span
    `found` is False, the offsets -1 and the scores 0; `probabilities` are the softmax of
    the scores over each example's list.
    """
    low = tf.constant(-1e30, start_logits.dtype)
    in_context = char_spans[:, :, 0] >= 0
    length = tf.shape(start_logits)[1]
    index = tf.range(length)
    allowed = (index[None, :] >= index[:, None]) & (index[None, :] < index[:, None] + max_pieces)
    scores = tf.where(allowed[None] & in_context[:, :, None] & in_context[:, None, :],
                      start_logits[:, :, None] + end_logits[:, None, :], low)
    flat = tf.reshape(scores, [tf.shape(scores)[0], -1])  # (windows, start * end)
    # Within a window distinct piece spans are distinct character ranges: its n best are
    # all it can add. top_k lists equal scores lower index (earlier piece) first.
    k = tf.minimum(n_best, tf.shape(flat)[1])
    top, where = tf.math.top_k(flat, k)  # (windows, k)
    first = tf.gather(char_spans[:, :, 0], where // length, batch_dims=1)
    last = tf.gather(char_spans[:, :, 1], where % length, batch_dims=1)

    def per_example(values, fill):
        # (batch, windows * k) in window order, at least n_best wide.
        rows = tf.RaggedTensor.from_value_rowids(
            tf.reshape(values, [-1]), tf.repeat(example, k), nrows=num_examples)
        dense = rows.to_tensor(default_value=fill)
        return tf.pad(dense, [[0, 0], [0, tf.maximum(n_best - tf.shape(dense)[1], 0)]],
                      constant_values=fill)

    score, start, end = per_example(top, low), per_example(first, -1), per_example(last, -1)
    width = tf.shape(score)[1]
    # Best first; top_k keeps equal scores in window order.
    _, order = tf.math.top_k(score, width)
    score, start, end = (tf.gather(x, order, batch_dims=1) for x in (score, start, end))
    valid = score > low / 2
    position = tf.range(width)
    same = (start[:, :, None] == start[:, None, :]) & (end[:, :, None] == end[:, None, :])
    duplicate = tf.reduce_any(same & (position[None, :] < position[:, None])[None]
                              & valid[:, None, :], -1)   # (batch, width): an earlier twin
    keep = valid & ~duplicate
    # The first n_best kept candidates, in order.
    _, chosen = tf.math.top_k(tf.where(keep, width - position[None, :], 0), n_best)
    found = tf.gather(keep, chosen, batch_dims=1)
    score = tf.gather(score, chosen, batch_dims=1)
    probabilities = tf.where(found, tf.nn.softmax(tf.where(found, score, low)), 0.0)
    return (found, tf.where(found, tf.gather(start, chosen, batch_dims=1), -1),
            tf.where(found, tf.gather(end, chosen, batch_dims=1), -1),
            tf.where(found, score, 0.0), probabilities)
