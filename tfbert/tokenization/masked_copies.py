"""The masked copies of sentences that pseudo-log-likelihood scoring runs (Salazar et al.
2020, "Masked Language Model Scoring"): one copy per word piece, that piece replaced by
`[MASK]`, so the masked-LM head predicts every piece from all the others.

One graph function, used by the Python scorer (`tfbert.SentenceScorer`) and by the
SavedModel's `score` signature alike, so both see the same windows.

Windows: a sentence of `n` pieces that does not fit `max_length - 2` (= `W`) is read in
windows of `W` pieces. The copy that masks piece `t` sees the window centred on it,
`pieces[start:start + W]` with `start = clip(t - W // 2, 0, n - W)`: every piece is scored
once, with as much context on each side as the length allows. A copy costs one forward
pass whether or not it is windowed, so windows add no work.
"""

from __future__ import annotations

import tensorflow as tf


def masked_copies(ids: tf.RaggedTensor, max_length: int, cls_id: int, sep_id: int,
                  mask_id: int, pad_id: int) -> dict:
    """The masked copies of `ids` `(sentences, (pieces))`, one per piece, in sentence
    then piece order.

    Returns int32 tensors, `copies` = the total number of pieces:
    `token_ids`, `segment_ids`, `padding_mask` `(copies, width)` (`width` = the longest
    window + 2); `masked_positions` `(copies, 1)` where the `[MASK]` is; `targets`
    `(copies,)` the masked piece's id; `sentence` and `piece` `(copies,)`, which sentence
    and which of its pieces each copy scores.
    """
    if max_length < 3:
        raise ValueError(f"max_length must leave room for [CLS], a piece and [SEP]. "
                         f"Received: max_length={max_length}")
    window = max_length - 2
    ids = tf.cast(ids, tf.int32)
    flat = ids.flat_values                                     # (copies,)
    count = tf.shape(flat)[0]
    sentence = tf.cast(ids.value_rowids(), tf.int32)           # (copies,)
    row_start = tf.cast(tf.gather(ids.row_splits, sentence), tf.int32)
    piece = tf.range(count, dtype=tf.int32) - row_start
    length = tf.cast(tf.gather(ids.row_lengths(), sentence), tf.int32)
    seen = tf.minimum(length, window)                          # pieces each copy sees
    start = tf.clip_by_value(piece - window // 2, 0, tf.maximum(length - window, 0))
    # (copies, width - 2): the window's pieces, padded.
    width = tf.reduce_max(tf.concat([seen, [0]], 0)) + 2
    offsets = tf.range(width - 2, dtype=tf.int32)[None, :]
    inside = offsets < seen[:, None]
    index = tf.clip_by_value(row_start[:, None] + start[:, None] + offsets, 0,
                             tf.maximum(count - 1, 0))
    body = tf.where(inside, tf.gather(flat, index), pad_id)
    # (copies, width): [CLS] window [SEP] padding, the scored piece masked.
    positions = tf.range(width, dtype=tf.int32)[None, :]
    token_ids = tf.concat([tf.fill([count, 1], cls_id), body, tf.fill([count, 1], pad_id)], 1)
    token_ids = tf.where(positions == seen[:, None] + 1, sep_id, token_ids)
    masked_at = piece - start + 1
    token_ids = tf.where(positions == masked_at[:, None], mask_id, token_ids)
    return {"token_ids": token_ids, "segment_ids": tf.zeros_like(token_ids),
            "padding_mask": tf.cast(positions <= seen[:, None] + 1, tf.int32),
            "masked_positions": masked_at[:, None], "targets": flat,
            "sentence": sentence, "piece": piece}


def target_log_probs(mlm_logits, targets):
    """`(copies,)` float32: log-softmax of each copy's masked-LM logits `(copies, 1, vocab)`
    at its target piece, in float32 whatever the model's compute dtype."""
    log_probs = tf.nn.log_softmax(tf.cast(mlm_logits[:, 0, :], tf.float32))
    return tf.gather(log_probs, targets, batch_dims=1)
