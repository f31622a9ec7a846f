"""Predicting with the Keras model of a model directory (or any checkpoint directory tfbert
loads), one answer dict per input.

classify/pair: `label` and `probabilities`; ner: `entities` (text, type, character span)
and a tag per word; qa: `answer` with its character span; pretrain: fill-mask, the top
tokens for each `[MASK]`; encoder: the mean-pooled `embedding` (of unit length when the
checkpoint declares it, `TaskSpec.normalize`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfbert.data.features import encode_ner, encode_qa
from tfbert.data.readers import QAExample
from tfbert.predict.base import Predictor, check_n_best
from tfbert.task.decoding import (DEFAULT_TOP_K, best_of, class_probabilities,
                                  entity_spans, label_result, mean_embedding, nbest_list,
                                  ner_tags, pool_windows, softmax, span_candidates)
from tfbert.tokenization.normalize import split_words
from tfbert.training import scoring


class KerasPredictor(Predictor):
    """Loads a model directory once and predicts batches of raw inputs.

    Example:
    >>> predictor = KerasPredictor("runs/chnsenti")               # doctest: +SKIP
    >>> predictor.predict([{"text": "质量很好"}])[0]["label"]      # doctest: +SKIP
    'pos'
    """

    def __init__(self, path, batch_size=32, top_k=DEFAULT_TOP_K, doc_stride=None, n_best=None):
        from tfbert.convert.loader import model_from_checkpoint, read_checkpoint
        from tfbert.tokenization import BertTokenizer

        checkpoint = read_checkpoint(path)
        if not checkpoint.vocab_file:
            raise ValueError(f"{path}: has no vocab.txt; expected a model directory")
        self.spec = checkpoint.spec.with_stride(doc_stride)
        self.model = model_from_checkpoint(checkpoint)
        self.tokenizer = BertTokenizer.from_file(checkpoint.vocab_file,
                                                 lowercase=self.spec.lowercase)
        self.batch_size = batch_size
        self.top_k = top_k
        self.n_best = check_n_best(n_best, self.spec)

    def _outputs(self, inputs):
        return scoring.model_outputs(self.model, inputs, self.batch_size)

    def _batch(self, records):
        length = self.spec.max_length
        if self.task == "qa":
            return self._qa(records)
        texts = [r["text"] for r in records]
        if self.task in ("classify", "pair"):
            pairs = [r.get("pair", "") for r in records] if self.task == "pair" else None
            logits = self._logits(texts, pairs)
            spec = self.spec
            probs = class_probabilities(logits, spec.multi_label, spec.temperature)
            return [label_result(r, p, self.labels, spec.multi_label, spec.thresholds)
                    for r, p in zip(records, probs)]
        if self.task == "ner":
            return self._ner(records)
        if self.task == "pretrain":
            return self._fill_mask(records)
        inputs = self.tokenizer(texts, max_length=length)
        pooled = mean_embedding(self._outputs(inputs)["sequence_output"],
                                inputs["padding_mask"], self.spec.normalize)
        return [{**r, "embedding": [round(float(x), 6) for x in e]}
                for r, e in zip(records, pooled)]

    def _logits(self, texts, pairs):
        """classify/pair: `(texts, labels)` logits; a model fine-tuned with windows reads
        every window of a long text and pools their logits (`TaskSpec.window_pooling`)."""
        spec = self.spec
        if not spec.window_pooling:
            return self._outputs(self.tokenizer(texts, pairs, max_length=spec.max_length))[
                "logits"]
        from tfbert.tokenization.windows import window_arrays

        inputs, document = window_arrays(self.tokenizer, texts, pairs, spec.max_length,
                                         spec.doc_stride)
        return pool_windows(self._outputs(inputs)["logits"], document, len(texts),
                            spec.window_pooling)

    def _ner(self, records):
        split = [split_words(r["text"]) for r in records]
        sentences = [([w for w, _, _ in words], None) for words in split]
        inputs, _, word_index, sentence_index = encode_ner(self.tokenizer, sentences,
                                                           self.labels, self.spec.max_length,
                                                           stride=self.spec.doc_stride)
        logits = self._outputs(inputs)["logits"]
        tags = ner_tags(logits, word_index, sentence_index,
                                [len(words) for words in split], self.labels,
                                self.spec.tag_scheme)
        # Each word's probability of its tag, at its first piece (as the tag itself).
        probabilities = softmax(logits)
        tag_id = {label: i for i, label in enumerate(self.labels)}
        word_scores = [[0.0] * len(words) for words in split]
        for row, sentence in enumerate(sentence_index):
            for position in np.flatnonzero(word_index[row] >= 0):
                word = word_index[row, position]
                word_scores[sentence][word] = float(
                    probabilities[row, position, tag_id[tags[sentence][word]]])
        return [{**record, "entities": entity_spans(record["text"], words, sentence_tags,
                                                    scores),
                 "tags": sentence_tags}
                for record, words, sentence_tags, scores in zip(records, split, tags,
                                                                word_scores)]

    def _qa(self, records):
        examples = [QAExample(str(i), r["question"], r["context"], ())
                    for i, r in enumerate(records)]
        inputs, _, windows = encode_qa(self.tokenizer, examples, self.spec.max_length,
                                       self.spec.doc_stride, self.spec.max_query_length)
        outputs = self._outputs(inputs)
        # The n best (or only the best) spans of each question, searched once.
        candidates = span_candidates(outputs["start_logits"], outputs["end_logits"], windows,
                                     len(records), self.n_best or 1)
        spans = best_of(candidates, self.spec.no_answer, self.spec.null_threshold)
        char_spans = windows["char_spans"]

        def span_answer(record, span):
            score, window, start, end = span
            first, last = char_spans[window][start], char_spans[window][end]
            return {"answer": record["context"][first[0]:last[1]], "start": int(first[0]),
                    "end": int(last[1]), "score": score}

        out = [{**record, "answer": "", "start": -1, "end": -1, "score": None}
               if span is None else {**record, **span_answer(record, span)}
               for record, span in zip(records, spans)]
        if self.n_best:
            for answer, (_, found) in zip(out, candidates):
                answer["n_best"] = nbest_list([span_answer(answer, s) for s in found])
        return out

    def _fill_mask(self, records):
        # "[MASK]" is not split by the text tokenizer: tokenize the text around it.
        tok, length = self.tokenizer, self.spec.max_length
        if tok.mask_id is None:
            raise ValueError("the model's vocabulary has no [MASK] token")
        parts = [r["text"].split("[MASK]") for r in records]
        flat = [p for row in parts for p in row]
        pieces = iter(tok.tokenize(tf.constant(flat)).to_list())
        rows = []
        for record, row in zip(records, parts):
            if len(row) < 2:
                raise ValueError(f"fill-mask: no [MASK] in {record['text'][:60]!r}")
            ids = []
            for k, _ in enumerate(row):
                ids += ([tok.mask_id] if k else []) + next(pieces)
            rows.append([tok.cls_id] + ids[:length - 2] + [tok.sep_id])
        width = max(len(r) for r in rows)
        token_ids = np.array([r + [tok.pad_id] * (width - len(r)) for r in rows], "int32")
        inputs = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
                  "padding_mask": (np.arange(width)[None] < np.array(
                      [len(r) for r in rows])[:, None]).astype("int32")}
        positions = [np.flatnonzero(row == tok.mask_id) for row in token_ids]
        width = max(1, max(len(p) for p in positions))
        inputs["masked_positions"] = np.array(
            [list(p) + [0] * (width - len(p)) for p in positions], "int32")
        logits = self._outputs(inputs)["mlm_logits"]
        out = []
        for record, row_positions, row_logits in zip(records, positions, logits):
            masks = []
            for k in range(len(row_positions)):
                probs = softmax(row_logits[k])
                top = np.argsort(-probs)[:self.top_k]
                masks.append([{"token": self.tokenizer.vocab[i], "score": float(probs[i])}
                              for i in top])
            out.append({**record, "masks": masks})
        return out
