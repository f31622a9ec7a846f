"""Task pre- and post-processing as TensorFlow ops, for signatures that take raw text.

Each function mirrors what `tfbert.predict.KerasPredictor` does in Python, so a
SavedModel answers as `tfbert predict` does: NER words and entities (conlleval rules),
QA context windows with a doc stride and the best span over them, fill-mask inputs.
Everything here has TF kernels that TF Serving links (tensorflow + tensorflow-text ops).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfbert.tokenization.cjk import CJK_RANGES

_CJK_CLASS = "[" + "".join(f"\\x{{{lo:X}}}-\\x{{{hi:X}}}" for lo, hi in CJK_RANGES) + "]"
# Python's str.split()/`\s` whitespace, which `split_words` uses to find words.
_SPACE_CLASS = r"[\t\n\v\f\r\x{1C}-\x{1F}\p{Z}\x{85}]"


def _flat_previous(values, first_in_row, fill):
    """`values[i - 1]` for every flat position, `fill` at the first of each row."""
    shifted = tf.concat([tf.fill([1], fill), values[:-1]], 0)
    return tf.where(first_in_row, tf.fill(tf.shape(values), fill), shifted)


def word_starts(texts, starts, ends):
    """Which pieces start a word, with words as `split_words` has them: runs between
    whitespace, and every CJK ideograph a word of its own.

    `texts` `(batch,)`; `starts`/`ends` `(batch, (pieces))` character offsets. Returns a
    ragged bool `(batch, (pieces))`.
    """
    row = tf.cast(starts.value_rowids(), tf.int32)
    flat_start = tf.cast(starts.flat_values, tf.int32)
    flat_end = tf.cast(ends.flat_values, tf.int32)
    first = tf.concat([[True], row[1:] != row[:-1]], 0)
    text = tf.gather(texts, row)
    previous_end = _flat_previous(flat_end, first, 0)
    gap = tf.strings.substr(text, previous_end, flat_start - previous_end, unit="UTF8_CHAR")
    spaced = tf.strings.regex_full_match(gap, f".*{_SPACE_CLASS}.*")
    first_char_cjk = tf.strings.regex_full_match(
        tf.strings.substr(text, flat_start, tf.ones_like(flat_start), unit="UTF8_CHAR"),
        _CJK_CLASS)
    previous_cjk = _flat_previous(first_char_cjk, first, False)
    begins = first | spaced | first_char_cjk | previous_cjk
    return starts.with_flat_values(begins)


def _tag_table(labels):
    """Per label: its prefix code (0 O, 1 B, 2 I, 3 E, 4 S) and its entity-type index."""
    prefixes, kinds, names = [], [], []
    for label in labels:
        prefix, _, kind = label.partition("-")
        if prefix in ("B", "I", "E", "S") and kind:
            prefixes.append("OBIES".index(prefix))
            if kind not in names:
                names.append(kind)
            kinds.append(names.index(kind))
        else:
            prefixes.append(0)
            kinds.append(-1)
    return (tf.constant(prefixes, tf.int32), tf.constant(kinds, tf.int32),
            tf.constant(names or [""], tf.string))


def _max_plus(a, b):
    """`(..., i, j)`: max over m of `a[..., i, m] + b[..., m, j]`."""
    return tf.reduce_max(a[..., :, :, None] + b[..., None, :, :], axis=-2)


def constrained_tags(log_probs, lengths, labels, max_words):
    """`tfbert.task.constrained_tags` for a batch: `log_probs` `(batch, words, K)` float64,
    rows padded past `lengths` `(batch,)`, `words` at most the static `max_words`; returns
    the tag ids `(batch, words)` of each row's best IOB2-valid sequence (padding: any).

    The forward and backward max-plus products, and then the left-to-right choice (the
    best tag allowed after the one before: a function of the previous tag, composed along
    the row), are doubling scans unrolled at trace time (log2(max_words) steps), so the
    graph holds dense ops only: no loops for TF Serving or a converter to handle.
    """
    from tfbert.task.decoding import NEVER, transitions

    allowed, may_start = transitions(labels)
    k = len(labels)
    steps = max(1, int(max_words - 1).bit_length())   # shifts 1, 2, 4, ... < max_words
    width = tf.shape(log_probs)[1]
    never = tf.constant(NEVER, tf.float64)
    penalty = tf.constant(np.where(allowed, 0.0, NEVER), tf.float64)   # (from, to)
    identity = tf.constant(np.where(np.eye(k, dtype=bool), 0.0, NEVER), tf.float64)
    positions = tf.range(width)
    real = positions[None, :] < tf.cast(lengths, tf.int32)[:, None]    # (batch, words)
    # step[t] (from, to): moving from word t - 1 to word t; the identity past a row's end
    # and at t = 0.
    step = penalty + log_probs[:, :, None, :]
    step = tf.where((real & (positions > 0)[None, :])[:, :, None, None], step, identity)
    forward_steps, backward_steps = step, tf.concat(
        [step[:, 1:], tf.broadcast_to(identity, tf.shape(step[:, :1]))], 1)
    for shift in (1 << i for i in range(steps)):
        pad = tf.broadcast_to(identity, tf.shape(step[:, :shift]))
        forward_steps = _max_plus(tf.concat([pad, forward_steps[:, :-shift]], 1),
                                  forward_steps)
        backward_steps = _max_plus(backward_steps,
                                   tf.concat([backward_steps[:, shift:], pad], 1))
    first = log_probs[:, 0] + tf.where(tf.constant(may_start), tf.constant(0.0, tf.float64),
                                       never)                               # (batch, K)
    marginals = tf.reduce_max(first[:, None, :, None] + forward_steps, axis=2) + \
        tf.reduce_max(backward_steps, axis=3)                               # (batch, words, K)
    # choice[t][p]: the tag at word t after tag p at word t - 1 (p = K: the row's start).
    permitted = tf.constant(np.concatenate([allowed, may_start[None, :]]))  # (K + 1, K)
    choice = tf.argmax(tf.where(permitted, marginals[:, :, None, :],
                                tf.constant(-np.inf, tf.float64)), -1, output_type=tf.int32)
    # Composed left to right: composed[t][p] = choice[t](choice[t - 1](... choice[0](p))).
    composed = choice                                                      # (b, w, K + 1)
    for shift in (1 << i for i in range(steps)):
        earlier = tf.concat([tf.broadcast_to(tf.range(k + 1), tf.shape(composed[:, :shift])),
                             composed[:, :-shift]], 1)
        composed = tf.gather(composed, earlier, batch_dims=2)
    return composed[:, :, k]


def ner_entities(texts, tag_ids, scores, char_starts, char_ends, labels):
    """Entities from per-word tags, conlleval-style (as `tfbert.evaluation.entities`).

    `tag_ids`, `scores` (the tag's probability), `char_starts`, `char_ends`: ragged
    `(batch, (words))`. Returns dense `(batch, max_entities)` tensors `entity_types`,
    `entity_texts` (padding ""), `entity_starts`, `entity_ends` (character offsets, padding
    -1), `entity_scores` (mean tag probability over the entity's words, padding 0) and
    `num_entities` `(batch,)`.
    """
    prefix_of, kind_of, kind_names = _tag_table(labels)
    batch = tf.shape(texts)[0]
    row = tf.cast(tag_ids.value_rowids(), tf.int32)
    first = tf.concat([[True], row[1:] != row[:-1]], 0)
    prefix = tf.gather(prefix_of, tag_ids.flat_values)
    kind = tf.gather(kind_of, tag_ids.flat_values)
    previous_prefix = _flat_previous(prefix, first, 0)
    previous_kind = _flat_previous(kind, first, -1)
    inside = prefix != 0
    # B-X and S-X start an entity; I-X and E-X do after O, E-, S- or another type.
    begins = inside & ((prefix == 1) | (prefix == 4) | (previous_prefix == 0)
                       | (previous_prefix >= 3) | (previous_kind != kind))
    # (words,): the entity each word belongs to (-1 outside any); rows never share one,
    # since a row's first word starts its entity.
    entity = tf.where(inside, tf.cumsum(tf.cast(begins, tf.int32)) - 1, -1)
    count = tf.reduce_sum(tf.cast(begins, tf.int32))
    keep = tf.where(inside)[:, 0]
    segment = tf.gather(entity, keep)

    def per_entity(values, reduce):
        return reduce(tf.gather(values, keep), segment, num_segments=count)

    entity_row = per_entity(row, tf.math.unsorted_segment_min)
    start = per_entity(tf.cast(char_starts.flat_values, tf.int32), tf.math.unsorted_segment_min)
    end = per_entity(tf.cast(char_ends.flat_values, tf.int32), tf.math.unsorted_segment_max)
    score = per_entity(scores.flat_values, tf.math.unsorted_segment_mean)
    kind_name = tf.gather(kind_names, tf.boolean_mask(kind, begins))
    text = tf.strings.substr(tf.gather(texts, entity_row), start, end - start,
                             unit="UTF8_CHAR")

    def dense(values, fill):
        ragged = tf.RaggedTensor.from_value_rowids(values, tf.cast(entity_row, tf.int64),
                                                   nrows=tf.cast(batch, tf.int64))
        return ragged.to_tensor(default_value=fill)

    return {"entity_types": dense(kind_name, ""), "entity_texts": dense(text, ""),
            "entity_starts": dense(start, -1), "entity_ends": dense(end, -1),
            "entity_scores": dense(score, 0.0),
            "num_entities": tf.math.bincount(entity_row, minlength=batch, maxlength=batch,
                                             dtype=tf.int32)}


def pool_windows(logits, document, texts, pooling):
    """`tfbert.task.pool_windows` in the graph: `(windows, labels)` logits to `(texts,
    labels)`, the mean or the max over each text's windows (every text has one at least)."""
    if pooling == "max":
        return tf.math.unsorted_segment_max(logits, document, texts)
    return tf.math.unsorted_segment_mean(logits, document, texts)


def qa_windows(tokenizer, questions, contexts, max_length, doc_stride, max_query_length):
    """`[CLS] question [SEP] context-part [SEP]` windows, as `encode_qa` makes them.

    Returns `(inputs, example_index, char_spans)`: the encoder's three `(windows,
    max_length)` tensors, the example of each window, and `(windows, max_length, 2)` the
    character range in the context of each context piece (-1 elsewhere).
    """
    query = tokenizer.tokenize(questions)[:, :max_query_length]
    ids, starts, ends = tokenizer.tokenize_with_offsets(contexts)
    query_length = tf.cast(query.row_lengths(), tf.int32)
    context_length = tf.cast(ids.row_lengths(), tf.int32)
    room = max_length - query_length - 3  # (batch,)
    tf.debugging.assert_positive(room, message="max_length leaves no room for the context")
    stride = tf.minimum(doc_stride, room)
    extra = tf.maximum(context_length - room, 0)
    windows = 1 + (extra + stride - 1) // stride  # (batch,)
    example = tf.repeat(tf.range(tf.shape(questions)[0]), windows)  # (windows,)
    # Each window's number within its example: position minus its example's first window.
    number = tf.range(tf.reduce_sum(windows)) - tf.gather(tf.cumsum(windows, exclusive=True),
                                                          example)
    offset = number * tf.gather(stride, example)
    positions = tf.range(max_length)[None, :]  # (1, max_length)
    q_len = tf.gather(query_length, example)[:, None]
    first_context = q_len + 2
    # (windows, max_length): which context piece each position holds (-1 if none).
    piece = positions - first_context + offset[:, None]
    in_window = (positions >= first_context) & (
        positions < first_context + tf.gather(room, example)[:, None]) & (
        piece < tf.gather(context_length, example)[:, None])
    piece = tf.where(in_window, piece, -1)
    context_end = first_context + tf.reduce_sum(tf.cast(in_window, tf.int32), 1,
                                                keepdims=True)  # the closing [SEP]

    def take(ragged, fill):
        dense = tf.gather(ragged.to_tensor(default_value=fill), example)
        width = tf.shape(dense)[1]
        found = tf.gather(dense, tf.clip_by_value(piece, 0, tf.maximum(width - 1, 0)),
                          batch_dims=1)
        return tf.where(in_window, tf.cast(found, tf.int32), fill)

    query_ids = tf.gather(query.to_tensor(shape=[None, max_length]), example)
    query_part = tf.gather(query_ids, tf.broadcast_to(
        tf.clip_by_value(positions - 1, 0, max_length - 1), tf.shape(query_ids)), batch_dims=1)
    token_ids = tf.where(positions == 0, tokenizer.cls_id, tokenizer.pad_id)
    token_ids = tf.where((positions >= 1) & (positions <= q_len), query_part, token_ids)
    token_ids = tf.where((positions == q_len + 1) | (positions == context_end),
                         tokenizer.sep_id, token_ids)
    token_ids = tf.where(in_window, take(ids, 0), token_ids)
    inputs = {"token_ids": tf.cast(token_ids, tf.int32),
              "segment_ids": tf.cast((positions >= first_context) & (positions <= context_end),
                                     tf.int32),
              "padding_mask": tf.cast(positions <= context_end, tf.int32)}
    char_spans = tf.stack([take(starts, -1), take(ends, -1)], -1)
    return inputs, example, char_spans


def qa_best_spans(start_logits, end_logits, example, char_spans, num_examples, max_pieces,
                  no_answer, null_threshold=0.0):
    """Per example, the best span over its windows (as `tfbert.task.best_spans`).

    Returns `(has_answer, start_char, end_char, score)`, each `(batch,)`.
    """
    in_context = char_spans[:, :, 0] >= 0
    low = tf.constant(-1e30, start_logits.dtype)
    starts = tf.where(in_context, start_logits, low)
    ends = tf.where(in_context, end_logits, low)
    length = tf.shape(starts)[1]
    scores = starts[:, :, None] + ends[:, None, :]  # (windows, start, end)
    index = tf.range(length)
    allowed = (index[None, :] >= index[:, None]) & (index[None, :] < index[:, None] + max_pieces)
    scores = tf.where(allowed[None] & in_context[:, :, None] & in_context[:, None, :],
                      scores, low)
    flat = tf.reshape(scores, [tf.shape(scores)[0], -1])
    best = tf.argmax(flat, 1, output_type=tf.int32)
    window_score = tf.reduce_max(flat, 1)  # (windows,)
    # The best window of each example (the first on a tie, as the Python loop keeps).
    example_best = tf.math.unsorted_segment_max(window_score, example, num_examples)
    is_best = window_score >= tf.gather(example_best, example)
    window_number = tf.range(tf.shape(example)[0])
    chosen = tf.math.unsorted_segment_min(tf.where(is_best, window_number, 2 ** 30), example,
                                          num_examples)
    start_piece, end_piece = best[:, None] // length, best[:, None] % length
    spans = tf.gather(char_spans, chosen)  # (batch, max_length, 2)
    start_char = tf.gather(spans[:, :, 0], tf.gather(start_piece, chosen), batch_dims=1)[:, 0]
    end_char = tf.gather(spans[:, :, 1], tf.gather(end_piece, chosen), batch_dims=1)[:, 0]
    score = tf.gather(window_score, chosen)
    has_answer = score > low / 2
    if no_answer:
        null = tf.math.unsorted_segment_min(start_logits[:, 0] + end_logits[:, 0], example,
                                            num_examples)
        # In float64, as Python compares its float sums: the same answer at any threshold.
        has_answer &= tf.cast(null, tf.float64) - tf.cast(score, tf.float64) <= null_threshold
    start_char = tf.where(has_answer, start_char, -1)
    end_char = tf.where(has_answer, end_char, -1)
    return has_answer, start_char, end_char, tf.where(has_answer, score, 0.0)


def fill_mask_pieces(tokenizer, texts):
    """Word pieces of texts holding `[MASK]`, the mask id where each `[MASK]` was
    (the text tokenizer would split the marker itself). `(batch, (pieces))`."""
    parts = tf.strings.split(texts, "[MASK]")  # (batch, (parts))
    pieces = tokenizer.tokenize(parts.flat_values)  # (parts, (pieces))
    not_first = tf.concat([[False], parts.value_rowids()[1:] == parts.value_rowids()[:-1]], 0)
    mask = tf.ragged.boolean_mask(
        tf.fill([tf.shape(not_first)[0], 1], tf.constant(tokenizer.mask_id, tf.int32)),
        not_first[:, None])
    joined = tf.concat([mask, tf.cast(pieces, tf.int32)], axis=1)
    return parts.with_flat_values(joined).merge_dims(1, 2)
