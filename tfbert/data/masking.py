"""Dynamic masked-LM masking in tf.data (tf-text's item selector and value chooser).

Each pass over the data draws new masks: 15 % of tokens (at most `max_predictions` per
sequence) are chosen; of those 80 % become `[MASK]`, 10 % a random token, 10 % stay.
`[CLS]`, `[SEP]` and padding are never chosen. With `whole_word=True` a word (a piece and
the `##` pieces after it) is chosen or left as a whole.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_text as tf_text


class Masker:
    """Turns batches of pre-training instances into the `BertPretrainer`'s inputs.

    Call on a batch from `dataset.ragged_batch(n)` of `load_pretraining_dataset`'s
    elements; returns `(inputs, targets)`: inputs `token_ids` (masked), `segment_ids`,
    `padding_mask` `(batch, seq_len)` and `masked_positions` `(batch, max_predictions)`;
    targets `masked_ids`, `masked_weights` (1 for a real prediction, 0 for padding) and
    `next_sentence_label`.
    """

    def __init__(self, vocab, seq_len=128, rate=0.15, max_predictions=None, whole_word=False):
        index = {token: i for i, token in enumerate(vocab)}
        self.seq_len = seq_len
        self.max_predictions = max_predictions or max(1, round(seq_len * rate))
        self.whole_word = whole_word
        self.pad_id = index.get("[PAD]", 0)
        special = [index[t] for t in ("[PAD]", "[CLS]", "[SEP]") if t in index]
        self._selector = tf_text.RandomItemSelector(
            max_selections_per_batch=self.max_predictions, selection_rate=rate,
            unselectable_ids=special)
        self._chooser = tf_text.MaskValuesChooser(len(vocab), index["[MASK]"], 0.8, 0.1)
        self._continuation = tf.constant([t.startswith("##") for t in vocab])

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

    def __call__(self, batch):
        token_ids = batch["token_ids"]
        ragged = self._words(token_ids, batch.get("word_starts")) if self.whole_word \
            else token_ids
        masked, positions, labels = tf_text.mask_language_model(
            ragged, item_selector=self._selector, mask_values_chooser=self._chooser)
        if self.whole_word:
            # mask_language_model flattens words back into rows; a word of several pieces
            # can overrun the cap, so keep the first max_predictions.
            masked, positions, labels = (
                x.merge_dims(1, 2) if x.shape.rank == 3 else x
                for x in (masked, positions, labels))
            positions = positions[:, : self.max_predictions]
            labels = labels[:, : self.max_predictions]
        token_ids, padding_mask = tf_text.pad_model_inputs(masked, self.seq_len, self.pad_id)
        segment_ids, _ = tf_text.pad_model_inputs(batch["segment_ids"], self.seq_len)
        masked_positions, weights = tf_text.pad_model_inputs(positions, self.max_predictions)
        masked_ids, _ = tf_text.pad_model_inputs(labels, self.max_predictions)
        inputs = {"token_ids": tf.cast(token_ids, tf.int32),
                  "segment_ids": tf.cast(segment_ids, tf.int32),
                  "padding_mask": tf.cast(padding_mask, tf.int32),
                  "masked_positions": tf.cast(masked_positions, tf.int32)}
        targets = {"masked_ids": tf.cast(masked_ids, tf.int32),
                   "masked_weights": tf.cast(weights, tf.float32),
                   "next_sentence_label": batch["next_sentence_label"]}
        return inputs, targets
