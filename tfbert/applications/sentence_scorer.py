"""`SentenceScorer`: how natural a sentence is to a masked-LM, as its pseudo-log-likelihood."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from tfbert.progress import progress_bar
from tfbert.task import check_max_length
from tfbert.tokenization.masked_copies import masked_copies, target_log_probs

_INPUTS = ("token_ids", "segment_ids", "padding_mask", "masked_positions")


class SentenceScorer:
    """Scores sentences with a model's masked-LM head: the pseudo-log-likelihood (PLL) of a
    sentence is the sum, over its word pieces, of the log-probability the model gives the
    true piece when that piece alone is replaced by `[MASK]` (Salazar et al. 2020, "Masked
    Language Model Scoring"). Higher is more natural; rescoring a speech recognizer's or an
    OCR engine's n-best list with it, or spotting the piece a text's author most likely
    mistyped (`per_token=True`), are its uses.

    Every masked copy of a sentence runs in the same batch (`batch_size` copies at most,
    whole sentences; a sentence of more pieces runs alone, in consecutive batches). A
    sentence longer than `max_length - 2` pieces is read in windows, each piece scored once
    in the window centred on it (`tfbert.tokenization.masked_copies`).

    Example:
    >>> scorer = tfbert.SentenceScorer.from_pretrained("runs/demo/pretrained")  # doctest: +SKIP
    >>> scorer(["我爱北京天安门", "我爱北京天门安"])                          # doctest: +SKIP
    [{'text': '我爱北京天安门', 'pll': -9.1, 'num_pieces': 7, 'pseudo_perplexity': 3.7}, ...]
    """

    def __init__(self, model, tokenizer, max_length: int, batch_size: int = 128):
        if tokenizer.mask_id is None:
            raise ValueError("the model's vocabulary has no [MASK] token; scoring needs one")
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        signature = [{k: tf.TensorSpec([None, None], tf.int32) for k in _INPUTS},
                     tf.TensorSpec([None], tf.int32)]
        # One trace for every batch shape.
        self._log_probs = tf.function(
            lambda inputs, targets: target_log_probs(
                model(inputs, training=False)["mlm_logits"], targets),
            input_signature=signature)

    @classmethod
    def from_pretrained(cls, name_or_path, batch_size: int = 128, max_length: int | None = None):
        """The scorer for a checkpoint with a masked-LM head: a `tfbert pretrain` model
        directory, or a Hugging Face / Google / keras-hub checkpoint (or its name) that kept
        its pre-training heads. `max_length` (default: the model's) sets the window."""
        from tfbert.convert.loader import model_from_checkpoint, read_checkpoint
        from tfbert.registry import checkpoint_path
        from tfbert.tokenization import BertTokenizer

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer. Received: "
                             f"batch_size={batch_size!r}")
        path = checkpoint_path(name_or_path, "name_or_path")
        checkpoint = read_checkpoint(path)
        if checkpoint.spec.task != "pretrain":
            raise ValueError(f"{path}: a {checkpoint.spec.task!r} model has no masked-LM head; "
                             "scoring needs one (a `tfbert pretrain` model directory, or a "
                             "checkpoint that kept its pre-training heads)")
        if not checkpoint.vocab_file:
            raise ValueError(f"{path}: has no vocab.txt; scoring tokenizes raw text")
        if max_length is None:
            max_length = checkpoint.spec.max_length
        check_max_length(max_length, "max_length", checkpoint.config.max_position_embeddings)
        tokenizer = BertTokenizer.from_file(checkpoint.vocab_file,
                                            lowercase=checkpoint.spec.lowercase)
        return cls(model_from_checkpoint(checkpoint), tokenizer, max_length, batch_size)

    def __call__(self, texts, per_token: bool = False, progress: bool = False):
        """One text gives one answer dict, a list gives a list: `text`, `pll` (natural log),
        `num_pieces` and `pseudo_perplexity` (`exp(-pll / num_pieces)`; None for a text
        with no pieces, whose `pll` is 0). `per_token=True` adds `tokens`: each piece with
        its character span in the text and its log-probability `score`, in text order."""
        if isinstance(texts, str):
            return self.score([texts], per_token)[0]
        return self.score(texts, per_token, progress)

    def score(self, texts, per_token: bool = False, progress: bool = False) -> list:
        """The answer dicts of `__call__` for a list of texts, in input order."""
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}]: expected a string. Received: "
                                f"{type(text).__name__}")
        if not texts:
            return []
        ids, starts, ends = (x.to_list() for x in self.tokenizer.tokenize_with_offsets(
            tf.constant(texts)))
        scores = self.piece_scores(ids, progress)
        out = []
        for i, text in enumerate(texts):
            n, pll = len(ids[i]), float(np.sum(scores[i], dtype=np.float64))
            answer = {"text": text, "pll": pll, "num_pieces": n,
                      "pseudo_perplexity": math.exp(-pll / n) if n else None}
            if per_token:
                answer["tokens"] = [{"token": self.tokenizer.vocab[t], "start": s, "end": e,
                                     "score": float(v)}
                                    for t, s, e, v in zip(ids[i], starts[i], ends[i], scores[i])]
            out.append(answer)
        return out

    def piece_scores(self, ids, progress: bool = False) -> list:
        """Each sentence's pieces' log-probabilities, `[(pieces,)]` float32, for word-piece
        `ids` (lists, no special tokens)."""
        # Sentences grouped longest first into batches of whole sentences.
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        groups, group, size = [], [], 0
        for i in order:
            if group and size + len(ids[i]) > self.batch_size:
                groups.append(group)
                group, size = [], 0
            group.append(i)
            size += len(ids[i])
        groups.append(group)
        scores = [np.zeros(len(row), np.float32) for row in ids]
        bar = progress_bar(sum(len(row) for row in ids), progress, unit_name="piece")
        done, tok = 0, self.tokenizer
        for group in groups:
            if not sum(len(ids[i]) for i in group):
                continue
            copies = masked_copies(tf.ragged.constant([ids[i] for i in group], tf.int32,
                                                      ragged_rank=1),
                                   self.max_length, tok.cls_id, tok.sep_id, tok.mask_id,
                                   tok.pad_id)
            values = []
            count = int(tf.shape(copies["targets"])[0])
            for first in range(0, count, self.batch_size):
                part = slice(first, first + self.batch_size)
                values.append(self._log_probs({k: copies[k][part] for k in _INPUTS},
                                              copies["targets"][part]).numpy())
            values = np.concatenate(values)
            for sentence, piece, value in zip(copies["sentence"].numpy(),
                                              copies["piece"].numpy(), values):
                scores[group[sentence]][piece] = value
            done += count
            bar.update(done)
        return scores
