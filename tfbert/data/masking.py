"""Dynamic masked-LM masking in tf.data, with stateless random ops.

Each batch draws its own masks: 15 % of tokens (rounded up, at most `max_predictions` per
sequence) are chosen; of those 80 % become `[MASK]`, 10 % a random token, 10 % stay.
`[CLS]`, `[SEP]` and padding are never chosen. With `whole_word=True` a word (a piece and
the `##` pieces after it) is chosen or left as a whole.

The masks are a function of `(seed, batch index)` only. tf-text's `RandomItemSelector`
shuffles each row with a stateful op inside a `map_fn` whose iterations run in parallel,
so which row got which draw varied from run to run (measured: 3 of 5 batches differed
between two passes over the same data), and a resumed pre-training could not replay the
batches an uninterrupted one saw.
"""

from __future__ import annotations

import tensorflow as tf

SHUFFLE_BUFFER = 100_000


class Masker:
    """Turns batches of pre-training instances into the `BertPretrainer`'s inputs.

    `apply(dataset)` masks the batches of `dataset.ragged_batch(n)` of
    `load_pretraining_dataset`'s elements (`masker(batch, i)` masks one, as batch `i`),
    each with its own stateless draws from `(seed, i)`. Returns `(inputs, targets)`:
    inputs `token_ids` (masked), `segment_ids`, `padding_mask` `(batch, seq_len)` and
    `masked_positions` `(batch, max_predictions)`;
    targets `masked_ids`, `masked_weights` (1 for a real prediction, 0 for padding) and
    `next_sentence_label`.
    """

    def __init__(self, vocab, seq_len=128, rate=0.15, max_predictions=None, whole_word=False,
                 seed=0):
        index = {token: i for i, token in enumerate(vocab)}
        self.seq_len = seq_len
        self.rate = rate
        self.max_predictions = max_predictions or max(1, round(seq_len * rate))
        self.whole_word = whole_word
        self.seed = int(seed)
        self.pad_id = index.get("[PAD]", 0)
        self.mask_id = index["[MASK]"]
        self.vocab_size = len(vocab)
        self._special = tf.constant([index[t] for t in ("[PAD]", "[CLS]", "[SEP]")
                                     if t in index], tf.int64)
        self._continuation = tf.constant([t.startswith("##") for t in vocab])

    def apply(self, batches: tf.data.Dataset) -> tf.data.Dataset:
        """`batches` (from `ragged_batch`) masked, batch `i` with the masks of `(seed, i)`."""
        return batches.enumerate().map(lambda i, batch: self(batch, i))

    def _selectable(self, ids: tf.RaggedTensor) -> tf.RaggedTensor:
        special = tf.reduce_any(ids.flat_values[:, None] == self._special[None, :], axis=1)
        return ids.with_flat_values(tf.logical_not(special))

    def _capped(self, chosen: tf.RaggedTensor) -> tf.Tensor:
        """Flat `chosen`, keeping in each row only the first `max_predictions` chosen."""
        flat = tf.cast(chosen.flat_values, tf.int64)
        total = tf.cumsum(flat)
        before_row = tf.gather(total - flat, chosen.row_starts())
        within = total - tf.gather(before_row, chosen.value_rowids())
        return chosen.flat_values & (within <= self.max_predictions)

    def _words(self, token_ids: tf.RaggedTensor, word_starts=None) -> tf.RaggedTensor:
        """`(batch, (tokens))` -> `(batch, (words), (pieces))`; word starts come from the
        data (`pretrain-data --whole-word-masking`, jieba for Chinese) or from `##`."""
        flat = token_ids.flat_values
        if word_starts is not None:
            starts = word_starts.flat_values
        else:
            starts = tf.logical_not(tf.gather(self._continuation, flat))
        # A row's first token ([CLS]) always starts a word, so rows never share a word.
        starts = tf.tensor_scatter_nd_update(
            starts, tf.expand_dims(token_ids.row_starts(), 1),
            tf.ones_like(token_ids.row_starts(), tf.bool))
        words = tf.RaggedTensor.from_row_starts(flat, tf.where(starts)[:, 0])
        per_row = tf.reduce_sum(
            tf.RaggedTensor.from_row_splits(tf.cast(starts, tf.int64), token_ids.row_splits),
            axis=1)
        return tf.RaggedTensor.from_row_lengths(words, per_row)

    def _choose(self, selectable: tf.RaggedTensor, seed) -> tf.Tensor:
        """Flat bool over `selectable`'s items: per row, ceil(rate x its selectable items),
        at most `max_predictions`, drawn without replacement (a random key per item, the
        smallest keys of each row win)."""
        flat = selectable.flat_values
        rows = selectable.value_rowids()
        keys = tf.random.stateless_uniform(tf.shape(flat), seed, dtype=tf.float64)
        keys = tf.where(flat, keys, 2.0)  # unselectable items sort last in their row
        # Sorted by row, then key; an item's rank is its place after its row's start.
        order = tf.cast(tf.argsort(tf.cast(rows, tf.float64) * 4.0 + keys, stable=True),
                        tf.int64)
        starts = tf.gather(selectable.row_starts(), tf.gather(rows, order))
        rank = tf.scatter_nd(order[:, None], tf.range(tf.size(order, tf.int64)) - starts,
                             tf.shape(order, tf.int64))
        count = tf.reduce_sum(tf.cast(selectable, tf.float32), axis=1)
        wanted = tf.minimum(tf.math.ceil(count * self.rate), float(self.max_predictions))
        return flat & (rank < tf.gather(tf.cast(wanted, tf.int64), rows))

    def __call__(self, batch, index=0):
        """Masks one batch (a dict of ragged `token_ids`, `segment_ids`, ...) with the
        draws of `(seed, index)`."""
        seeds = tf.random.experimental.stateless_split(
            tf.stack([tf.constant(self.seed, tf.int64), tf.cast(index, tf.int64)]), 3)
        token_ids = tf.cast(batch["token_ids"], tf.int64)
        if self.whole_word:
            words = self._words(token_ids, batch.get("word_starts"))  # (batch, (w), (p))
            first = tf.RaggedTensor.from_row_splits(   # (batch, (words)): first pieces
                tf.gather(words.values.flat_values, words.values.row_starts()),
                words.row_splits)
            chosen_words = self._choose(self._selectable(first), seeds[0])
            chosen = tf.repeat(chosen_words, words.values.row_lengths())
            # A long word can overrun the cap: keep the first max_predictions pieces.
            chosen = self._capped(token_ids.with_flat_values(chosen))
        else:
            chosen = self._choose(self._selectable(token_ids), seeds[0])
        flat = token_ids.flat_values
        draw = tf.random.stateless_uniform(tf.shape(flat), seeds[1])
        random_ids = tf.random.stateless_uniform(tf.shape(flat), seeds[2], 0, self.vocab_size,
                                                 dtype=tf.int64)
        replaced = tf.where(draw < 0.8, tf.constant(self.mask_id, tf.int64),
                            tf.where(draw < 0.9, random_ids, flat))
        masked = token_ids.with_flat_values(tf.where(chosen, replaced, flat))
        chosen = token_ids.with_flat_values(chosen)
        positions = tf.ragged.boolean_mask(
            tf.ragged.range(token_ids.row_lengths(), dtype=tf.int64), chosen)
        labels = tf.ragged.boolean_mask(token_ids, chosen)
        token_ids, padding_mask = _pad(masked, self.seq_len, self.pad_id)
        segment_ids, _ = _pad(batch["segment_ids"], self.seq_len)
        masked_positions, weights = _pad(positions, self.max_predictions)
        masked_ids, _ = _pad(labels, self.max_predictions)
        inputs = {"token_ids": tf.cast(token_ids, tf.int32),
                  "segment_ids": tf.cast(segment_ids, tf.int32),
                  "padding_mask": tf.cast(padding_mask, tf.int32),
                  "masked_positions": tf.cast(masked_positions, tf.int32)}
        targets = {"masked_ids": tf.cast(masked_ids, tf.int32),
                   "masked_weights": tf.cast(weights, tf.float32),
                   "next_sentence_label": batch["next_sentence_label"]}
        return inputs, targets


def _pad(values: tf.RaggedTensor, width: int, pad=0):
    """`(batch, width)` values cut or padded with `pad`, and the 1/0 mask of real ones."""
    dense = values.to_tensor(default_value=tf.cast(pad, values.dtype), shape=[None, width])
    mask = tf.ones_like(values, tf.int32).to_tensor(shape=[None, width])
    return dense, mask


def masked_batches(directory, vocab, batch, seed, epoch, max_predictions=0, whole_word=None,
                   shuffle=True):
    """The epoch's masked batches `(inputs, targets)` of `directory` (drop remainder).

    Order and masks are a function of `(seed, epoch)`: the shuffle is seeded and the
    masks are stateless draws from `(seed, epoch, batch index)`.
    """
    from tfbert.data.pretraining import load_pretraining_dataset

    dataset, manifest = load_pretraining_dataset(directory)
    settings = manifest["settings"]
    whole = settings.get("whole_word_masking", False) if whole_word is None else whole_word
    masker = Masker(vocab, seq_len=settings["seq_len"], max_predictions=max_predictions or None,
                    whole_word=whole, seed=seed * 100_003 + epoch)
    if shuffle:
        dataset = dataset.shuffle(min(SHUFFLE_BUFFER, manifest["instances"]),
                                  seed=seed * 100_003 + epoch, reshuffle_each_iteration=False)
    return masker.apply(dataset.ragged_batch(batch, drop_remainder=True)), manifest
