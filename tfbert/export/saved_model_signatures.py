"""The serving module: a model directory's Keras model plus its tokenizer as a `tf.Module`
whose signatures take raw UTF-8 strings (`serving_default`) or token ids (`encode`).

`serving_default` by task —
classify/pair (`text`, and `text_pair`): `probabilities`, `label_ids`, `label_names`
  (multi-label: sigmoid `probabilities` and a `label_mask` of those over each label's
  threshold); the logits are divided by `task.json`'s `temperature` first; a model
  fine-tuned with windows cuts each long text into `doc_stride` windows in the graph and
  pools their logits per text (`window_pooling`), as the Python predictor does;
ner (`text`): `entity_types`, `entity_texts`, `entity_starts`, `entity_ends`,
  `entity_scores`, `num_entities`, and per word `tags` with `num_words` (a model trained
  on IOB2 tags gives the best IOB2-valid tag sequence, as `tfbert predict` does);
qa (`question`, `context`): `answer`, `start`, `end` (characters), `score`, `has_answer`
  (a model trained with unanswerable questions answers "" when its null score minus the
  best span's is over `task.json`'s `null_threshold`), and the `n_best` best spans
  `(batch, n_best)`: `nbest_answers`, `nbest_starts`, `nbest_ends`, `nbest_scores`,
  `nbest_probabilities` (padding "", -1, 0);
pretrain (`text` with `[MASK]`): `tokens` and `scores` `(batch, masks, top_k)`; and a
  second signature, `score` (`text`): each text's masked-LM pseudo-log-likelihood `pll`,
  `num_pieces` and `pseudo_perplexity` (0 for a text with no pieces), and per piece
  `pieces`, `piece_scores`, `piece_starts`, `piece_ends` (characters) `(batch,
  max_pieces)` (padding "", 0, -1), the same windows and numbers as
  `tfbert.SentenceScorer`;
encoder (`text`): the mean-pooled `embedding` (unit length when `task.json` says `normalize`).

With `jit_compile=True` the Keras model's call is one XLA-compiled function inside every
signature (TF Serving runs it only with `--xla_cpu_compilation_enabled`; without the flag
the first request fails): the encoder's hundreds of small ops become a few fused
kernels, so intra-op threads split and join far fewer times a call. XLA compiles
once per input shape, so classify, pair and encoder requests are then padded to
`max_length` (one shape per batch size) instead of to their longest text.
"""

from __future__ import annotations

import tensorflow as tf

from tfbert.export import saved_model_tasks
from tfbert.export.saved_model_nbest import qa_nbest_spans
from tfbert.task.decoding import DEFAULT_N_BEST, DEFAULT_TOP_K, MAX_ANSWER_PIECES
from tfbert.tokenization.masked_copies import masked_copies, target_log_probs
from tfbert.tokenization.windows import encode_windows

ENCODER_INPUTS = ("token_ids", "segment_ids", "padding_mask")
# Masked copies run through the model at a time by the `score` signature: a request of many
# long texts needs memory for this many copies, not for all of them.
SCORE_CHUNK = 256


def _strings(name):
    return tf.TensorSpec([None], tf.string, name=name)


def hold_model(module, model):
    """Sets `module.model` untracked and `module.model_variables`, the Keras model's
    variables, tracked: a `tf.Module` sees none of a Keras 3 model's variables through the
    model, and tracking both would save every weight twice."""
    module._setattr_tracking = False
    module.model = model
    module._setattr_tracking = True
    module.model_variables = [v.value for v in model.weights]


class ServingModule(tf.Module):
    """Signatures over `model` (a tfbert Keras task model) and `tokenizer` (a
    `BertTokenizer`), described by `spec` (`TaskSpec`).

    The Keras variables are listed on the module (`hold_model`) so that
    `tf.saved_model.save` writes them, once.
    """

    def __init__(self, model, tokenizer, spec, top_k=DEFAULT_TOP_K, n_best=DEFAULT_N_BEST,
                 jit_compile=False, name=None):
        super().__init__(name=name)
        hold_model(self, model)
        self.jit_compile = jit_compile
        self.tokenizer = tokenizer
        self.spec = spec
        self.top_k = top_k
        self.n_best = n_best
        self.labels = tf.constant(list(spec.labels) or [""], tf.string)
        self.vocab = tf.constant(tokenizer.vocab, tf.string)

    def signatures(self) -> dict:
        """`{name: concrete function}` for `tf.saved_model.save(signatures=...)`."""
        task = self.spec.task
        if task in ("classify", "pair"):
            if task == "pair":
                serve = tf.function(self._classify_pair, input_signature=[
                    _strings("text"), _strings("text_pair")])
            else:
                serve = tf.function(self._classify, input_signature=[_strings("text")])
        elif task == "ner":
            serve = tf.function(self._ner, input_signature=[_strings("text")])
        elif task == "qa":
            serve = tf.function(self._qa, input_signature=[_strings("question"),
                                                           _strings("context")])
        elif task == "pretrain":
            serve = tf.function(self._fill_mask, input_signature=[_strings("text")])
        else:
            serve = tf.function(self._embed, input_signature=[_strings("text")])
        ids = [tf.TensorSpec([None, None], tf.int32, name=k) for k in ENCODER_INPUTS]
        if task == "pretrain":
            ids.append(tf.TensorSpec([None, None], tf.int32, name="masked_positions"))
        encode = tf.function(self._encode, input_signature=ids)
        # Keep the traced functions on the module so that they are saved with it.
        self.serve, self.encode = serve, encode
        signatures = {"serving_default": serve.get_concrete_function(),
                      "encode": encode.get_concrete_function()}
        if task == "pretrain":
            self.score = tf.function(self._score, input_signature=[_strings("text")])
            signatures["score"] = self.score.get_concrete_function()
        return signatures

    # --- signatures --------------------------------------------------------------------

    def _run(self, inputs):
        if self.jit_compile:
            return self._compiled(inputs)
        return self.model(inputs, training=False)

    @property
    def _compiled(self):
        # Built on first use, inside the signature being traced, and kept off the module's
        # tracked attributes: the saved graph holds it as a function the signatures call.
        if "_xla_call" not in self.__dict__:
            self.__dict__["_xla_call"] = tf.function(
                lambda inputs: self.model(inputs, training=False), jit_compile=True)
        return self.__dict__["_xla_call"]

    @property
    def _pad_to_max_length(self):
        return self.jit_compile  # one compiled shape per batch size (module docstring)

    def _encode(self, token_ids, segment_ids, padding_mask, masked_positions=None):
        inputs = {"token_ids": token_ids, "segment_ids": segment_ids,
                  "padding_mask": padding_mask}
        if masked_positions is not None:
            inputs["masked_positions"] = masked_positions
        return {k: tf.cast(v, tf.float32) for k, v in self._run(inputs).items()}

    # Classify, pair and embed pad each request to its longest text, not to max_length:
    # the padded positions change nothing but the cost (short texts run ~3x faster).

    def _classify(self, text):
        return self._classify_pair(text, None)

    def _classify_pair(self, text, text_pair):
        spec = self.spec
        if spec.window_pooling:
            inputs, document = encode_windows(self.tokenizer, text, text_pair,
                                              spec.max_length, spec.doc_stride,
                                              pad_to_max_length=self._pad_to_max_length)
            return self._classes(inputs, document, tf.shape(text)[0])
        return self._classes(self.tokenizer.encode(text, text_pair, max_length=spec.max_length,
                                                   pad_to_max_length=self._pad_to_max_length))

    def _classes(self, inputs, document=None, texts=None):
        logits = tf.cast(self._run(inputs)["logits"], tf.float32)
        if document is not None:
            # (windows, labels) -> (texts, labels): each text's windows' logits pooled first,
            # then turned into probabilities as one window's would be.
            logits = saved_model_tasks.pool_windows(logits, document, texts,
                                                    self.spec.window_pooling)
        # The temperature task.json holds (1.0 unless calibrated), as every runtime applies it.
        logits = logits / self.spec.temperature
        if self.spec.multi_label:
            probabilities = tf.sigmoid(logits)
        else:
            probabilities = tf.nn.softmax(logits)
        label_ids = tf.argmax(probabilities, -1, output_type=tf.int32)
        out = {"probabilities": probabilities, "label_ids": label_ids,
               "label_names": tf.gather(self.labels, label_ids)}
        if self.spec.multi_label:   # each label over its threshold (chosen on dev)
            out["label_mask"] = probabilities > tf.constant(self.spec.decision_thresholds,
                                                            tf.float32)
        return out

    def _ner(self, text):
        length = self.spec.max_length
        ids, starts, ends = self.tokenizer.tokenize_with_offsets(text)
        # Pieces past the window get no tag (Python's predictor windows long texts).
        ids, starts, ends = (x[:, :length - 2] for x in (ids, starts, ends))
        inputs = self.tokenizer.pack(ids, max_length=length)
        logits = self._run(inputs)["logits"]
        lengths = ids.row_lengths()

        def pieces(values):  # (batch, length, ...) -> (batch, (pieces), ...), [CLS] dropped
            return tf.RaggedTensor.from_tensor(values[:, 1:], lengths=lengths)

        begins = saved_model_tasks.word_starts(text, starts, ends)
        # Per word: the tag of its first piece, its first start and its last end.
        word = tf.cumsum(tf.cast(begins.flat_values, tf.int32)) - 1
        words_per_row = tf.reduce_sum(tf.cast(begins, tf.int64), 1)
        n_words = tf.reduce_sum(tf.cast(begins.flat_values, tf.int32))
        word_end = tf.math.unsorted_segment_max(tf.cast(ends.flat_values, tf.int32), word,
                                                n_words)

        def per_word(values):
            return tf.RaggedTensor.from_row_lengths(
                tf.boolean_mask(values, begins.flat_values), words_per_row)

        # (batch, (words), labels): every tag's log-probability at each word's first piece,
        # taken once, in float64 as the IOB2 decoding sums them.
        word_logits = per_word(pieces(logits).flat_values)
        word_log_probs = word_logits.with_flat_values(
            tf.nn.log_softmax(tf.cast(word_logits.flat_values, tf.float64)))
        if self.spec.tag_scheme == "IOB2":
            # The best IOB2-valid sequence over each text's words (as Predictor), as wide
            # as the batch's longest text (its work grows with the width).
            word_tags = tf.RaggedTensor.from_tensor(
                saved_model_tasks.constrained_tags(
                    word_log_probs.to_tensor(shape=[None, None, len(self.spec.labels)]),
                    words_per_row, self.spec.labels, max_words=length - 2),
                lengths=words_per_row)
        else:
            word_tags = word_log_probs.with_flat_values(
                tf.argmax(word_log_probs.flat_values, -1, output_type=tf.int32))
        word_best = word_tags.with_flat_values(tf.cast(tf.exp(tf.gather(
            word_log_probs.flat_values, word_tags.flat_values, batch_dims=1)), tf.float32))
        out = saved_model_tasks.ner_entities(
            text, word_tags, word_best,
            per_word(tf.cast(starts.flat_values, tf.int32)),
            tf.RaggedTensor.from_row_lengths(word_end, words_per_row), self.spec.labels)
        # (batch, max_words): each word's tag, as the Python predictor's `tags`.
        out["tags"] = tf.gather(self.labels, word_tags).to_tensor(default_value="")
        out["num_words"] = tf.cast(words_per_row, tf.int32)
        return out

    def _qa(self, question, context):
        spec = self.spec
        inputs, example, char_spans = saved_model_tasks.qa_windows(
            self.tokenizer, question, context, spec.max_length, spec.doc_stride,
            spec.max_query_length)
        outputs = self._run(inputs)
        start_logits = tf.cast(outputs["start_logits"], tf.float32)
        end_logits = tf.cast(outputs["end_logits"], tf.float32)
        has_answer, start, end, score = saved_model_tasks.qa_best_spans(
            start_logits, end_logits, example, char_spans, tf.shape(question)[0],
            MAX_ANSWER_PIECES, spec.no_answer, spec.null_threshold)
        answer = tf.where(has_answer, tf.strings.substr(
            context, tf.maximum(start, 0), end - start, unit="UTF8_CHAR"), "")
        found, starts, ends, scores, probabilities = qa_nbest_spans(
            start_logits, end_logits, example, char_spans, tf.shape(question)[0],
            MAX_ANSWER_PIECES, self.n_best)
        contexts = tf.broadcast_to(context[:, None], tf.shape(starts))
        answers = tf.where(found, tf.strings.substr(
            contexts, tf.maximum(starts, 0), ends - starts, unit="UTF8_CHAR"), "")
        return {"answer": answer, "start": start, "end": end, "score": score,
                "has_answer": has_answer, "nbest_answers": answers, "nbest_starts": starts,
                "nbest_ends": ends, "nbest_scores": scores,
                "nbest_probabilities": probabilities}

    def _fill_mask(self, text):
        tok = self.tokenizer
        pieces = saved_model_tasks.fill_mask_pieces(tok, text)
        inputs = tok.pack(pieces[:, :self.spec.max_length - 2], max_length=self.spec.max_length)
        is_mask = tf.equal(inputs["token_ids"], tok.mask_id)
        positions = tf.RaggedTensor.from_row_lengths(
            tf.cast(tf.where(is_mask)[:, 1], tf.int32),
            tf.reduce_sum(tf.cast(is_mask, tf.int64), 1))
        inputs["masked_positions"] = positions.to_tensor(default_value=0)
        probabilities = tf.nn.softmax(tf.cast(self._run(inputs)["mlm_logits"], tf.float32))
        scores, token = tf.math.top_k(probabilities, k=min(self.top_k, tok.vocab_size))
        # (batch, masks, top_k); rows with fewer masks are padded with "" and 0.
        real = tf.sequence_mask(positions.row_lengths(), tf.shape(scores)[1])[:, :, None]
        return {"tokens": tf.where(real, tf.gather(self.vocab, token), ""),
                "scores": tf.where(real, scores, 0.0)}

    def _score(self, text):
        tok = self.tokenizer
        ids, starts, ends = tok.tokenize_with_offsets(text)
        copies = masked_copies(ids, self.spec.max_length, tok.cls_id, tok.sep_id,
                               tok.mask_id, tok.pad_id)
        count = tf.shape(copies["targets"])[0]

        def step(first, log_probs):
            part = {k: copies[k][first:first + SCORE_CHUNK] for k in
                    (*ENCODER_INPUTS, "masked_positions")}
            found = target_log_probs(self._run(part)["mlm_logits"],
                                     copies["targets"][first:first + SCORE_CHUNK])
            return first + SCORE_CHUNK, tf.concat([log_probs, found], 0)

        # (copies,): each piece's log-probability, SCORE_CHUNK copies at a time.
        _, log_probs = tf.while_loop(
            lambda first, _: first < count, step, [tf.constant(0), tf.zeros([0])],
            shape_invariants=[tf.TensorShape([]), tf.TensorShape([None])])
        per_piece = ids.with_flat_values(log_probs)            # (batch, (pieces))
        num_pieces = tf.cast(ids.row_lengths(), tf.int32)
        pll = tf.reduce_sum(per_piece, axis=1)
        pseudo_perplexity = tf.where(
            num_pieces > 0, tf.exp(-pll / tf.cast(tf.maximum(num_pieces, 1), tf.float32)), 0.0)
        return {"pll": pll, "num_pieces": num_pieces, "pseudo_perplexity": pseudo_perplexity,
                "pieces": tf.gather(self.vocab, ids).to_tensor(default_value=""),
                "piece_scores": per_piece.to_tensor(default_value=0.0),
                "piece_starts": tf.cast(starts, tf.int32).to_tensor(default_value=-1),
                "piece_ends": tf.cast(ends, tf.int32).to_tensor(default_value=-1)}

    def _embed(self, text):
        inputs = self.tokenizer.encode(text, max_length=self.spec.max_length,
                                       pad_to_max_length=self._pad_to_max_length)
        hidden = tf.cast(self._run(inputs)["sequence_output"], tf.float32)
        mask = tf.cast(inputs["padding_mask"], tf.float32)[..., None]
        embedding = tf.reduce_sum(hidden * mask, 1) / tf.maximum(tf.reduce_sum(mask, 1), 1.0)
        if self.spec.normalize:
            embedding = tf.math.l2_normalize(embedding, axis=-1, epsilon=1e-24)
        return {"embedding": embedding}
