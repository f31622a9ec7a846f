"""The graph a `.tflite` export holds: a Keras task model behind id inputs (`metadata`) or
behind tf-text's TFLite-compatible tokenizer (`in-model`), written with ops that have
TFLite kernels (builtins plus tf-text's FastBertNormalize, FastWordpieceTokenize and
RaggedTensorToTensor); ragged slicing and gathers, which emit RaggedRange, are avoided.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_text as tf_text

from tfbert.export.saved_model_signatures import hold_model
from tfbert.tokenization import BertTokenizer
from tfbert.task.decoding import DEFAULT_N_BEST, MAX_ANSWER_PIECES


class LiteModule(tf.Module):
    """The graph that is converted: the Keras model plus (in-model) the tokenizer.

    The Keras variables are listed on the module so that its SavedModel holds them.
    """

    def __init__(self, model, vocab, spec, tokenizer, n_best=DEFAULT_N_BEST):
        super().__init__()
        hold_model(self, model)
        self.spec = spec
        self.kind = tokenizer
        self.n_best = n_best
        self.packer = BertTokenizer(vocab, lowercase=spec.lowercase)
        # FastBertTokenizer's two halves, so that offsets can be mapped back with dense
        # ops (its own tokenize_with_offsets gathers ragged rows: RaggedRange, no kernel).
        self.normalizer = tf_text.FastBertNormalizer(lower_case_nfd_strip_accents=spec.lowercase)
        self.wordpiece = tf_text.FastWordpieceTokenizer(
            vocab, token_out_type=tf.int32, unknown_token="[UNK]", no_pretokenization=False)

    def input_names(self):
        if self.kind == "metadata":
            return ["ids", "mask", "segment_ids"]
        return {"pair": ["text", "text_pair"], "qa": ["question", "context"]}.get(
            self.spec.task, ["text"])

    def function(self):
        length = self.spec.max_length
        if self.kind == "metadata":
            specs = [tf.TensorSpec([1, length], tf.int32, name=n) for n in self.input_names()]
            fn = self._probability
        else:
            specs = [tf.TensorSpec([1], tf.string, name=n) for n in self.input_names()]
            fn = {"classify": self._classify, "pair": self._classify, "ner": self._ner,
                  "qa": self._qa}[self.spec.task]
        self.serve = tf.function(fn, input_signature=specs)
        return self.serve

    def _logits(self, inputs, key="logits"):
        return tf.cast(self.model(inputs, training=False)[key], tf.float32)

    def _pieces(self, text, width):
        """`(ids, starts, ends, lengths)` of one text (`text` is `[1]`): word pieces cut
        to `width`, dense `[1, width]`, with UTF-8 byte offsets into the original text."""
        normalized, offsets = self.normalizer.normalize_with_offsets(text)
        ids, starts, ends = self.wordpiece.tokenize_with_offsets(normalized)
        lengths = tf.minimum(tf.cast(ids.row_lengths(), tf.int32), width)

        def original(post):  # offsets in the normalised text -> in the input (one row)
            row = tf.gather(offsets.flat_values, post.flat_values)[None, :width]
            return tf.pad(tf.cast(row, tf.int32), [[0, 0], [0, width - tf.shape(row)[1]]])

        return ids.to_tensor(shape=[None, width]), original(starts), original(ends), lengths

    def _probabilities(self, logits):
        # Calibrated as task.json says (`temperature`), so a phone's score is the server's.
        logits = logits / self.spec.temperature
        return tf.sigmoid(logits) if self.spec.multi_label else tf.nn.softmax(logits)

    def _probability(self, ids, mask, segment_ids):
        inputs = {"token_ids": ids, "segment_ids": segment_ids, "padding_mask": mask}
        return {"probability": self._probabilities(self._logits(inputs))}

    def _classify(self, text, text_pair=None):
        length = self.spec.max_length
        segments = [self._pieces(t, length)[::3] for t in (text, text_pair) if t is not None]
        inputs = self.packer.pack_dense(segments, max_length=length)
        return {"probabilities": self._probabilities(self._logits(inputs))}

    def _ner(self, text):
        length = self.spec.max_length
        ids, starts, ends, count = self._pieces(text, length - 2)
        inputs = self.packer.pack_dense([(ids, count)], max_length=length)
        probabilities = tf.nn.softmax(self._logits(inputs))[:, 1:length - 1]
        real = tf.range(length - 2)[None, :] < count[:, None]
        return {"tag_ids": tf.where(real, tf.argmax(probabilities, -1, output_type=tf.int32),
                                    -1),
                "tag_scores": tf.where(real, tf.reduce_max(probabilities, -1), 0.0),
                "tag_probabilities": tf.where(real[:, :, None], probabilities, 0.0),
                "starts": tf.where(real, starts, -1), "ends": tf.where(real, ends, -1),
                "num_pieces": count}

    def _qa(self, question, context):
        spec, length = self.spec, self.spec.max_length
        query, _, _, query_length = self._pieces(question, spec.max_query_length)
        room = length - query_length - 3
        ids, starts, ends, context_length = self._pieces(context, length)
        context_length = tf.minimum(context_length, room)
        inputs = self.packer.pack_dense([(query, query_length), (ids, context_length)],
                                        max_length=length)
        start_logits = self._logits(inputs, "start_logits")[0]
        end_logits = self._logits(inputs, "end_logits")[0]
        # (length,): which context piece each position holds.
        first = query_length[0] + 2
        positions = tf.range(length)
        in_context = (positions >= first) & (positions < first + context_length[0])
        scores = start_logits[:, None] + end_logits[None, :]  # (start, end)
        allowed = (positions[None, :] >= positions[:, None]) & (
            positions[None, :] < positions[:, None] + MAX_ANSWER_PIECES) & (
            in_context[:, None] & in_context[None, :])
        scores = tf.where(allowed, scores, -1e30)
        best = tf.argmax(tf.reshape(scores, [-1]), output_type=tf.int32)
        score = tf.reduce_max(scores)
        start_piece = tf.clip_by_value(best // length - first, 0, length - 1)
        end_piece = tf.clip_by_value(best % length - first, 0, length - 1)
        has_answer = score > -1e29
        if spec.no_answer:
            has_answer &= start_logits[0] + end_logits[0] - score <= spec.null_threshold
        start = tf.where(has_answer, tf.gather(starts[0], start_piece), -1)
        end = tf.where(has_answer, tf.gather(ends[0], end_piece), -1)
        # The n best spans of the window (one window: no character range twice), equal
        # scores lower index (earlier piece) first, as the Python decoding lists them.
        top, where = tf.math.top_k(tf.reshape(scores, [-1]), min(self.n_best, length * length))
        found = top > -1e29

        def offsets(values, pieces):
            return tf.where(found, tf.gather(values[0], tf.clip_by_value(pieces - first, 0,
                                                                       length - 1)), -1)[None]

        return {"start": start[None], "end": end[None],
                "score": tf.where(has_answer, score, 0.0)[None],
                "nbest_starts": offsets(starts, where // length),
                "nbest_ends": offsets(ends, where % length),
                "nbest_scores": tf.where(found, top, 0.0)[None]}
