"""`AttentionViewer`: what every layer's and head's self-attention does for a text."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

FORMATS = (".png", ".html")


@dataclasses.dataclass
class AttentionMap:
    """One text's (or pair's) attention. `weights[layer, head, i, j]` is how much piece
    `tokens[i]` attends to piece `tokens[j]` (each row sums to 1); `segment_ids` says which
    piece is in the pair's second text."""

    tokens: list
    segment_ids: list
    weights: np.ndarray          # (layers, heads, pieces, pieces) float32
    text: str
    pair: str | None = None

    def save(self, path) -> str:
        """Draws the map into `path`: `.png` (a heat map per layer and head) or `.html` (a
        self-contained page, one panel per layer, in the spirit of bertviz's head view).
        Returns `path`."""
        from tfbert.evaluation.attention_view import plot_attention, write_attention_html

        path = os.fspath(path)
        extension = os.path.splitext(path)[1].lower()
        if extension not in FORMATS:
            raise ValueError(f"{path}: expected a file ending in .png or .html")
        title = self.text + (f" | {self.pair}" if self.pair is not None else "")
        if extension == ".png":
            return plot_attention(self.tokens, self.weights, path, title)
        return write_attention_html(self.tokens, self.weights, path, title, self.segment_ids)


class AttentionViewer:
    """The attention probabilities of every layer and head of a BERT encoder for a text or
    a text pair, from the pieces the model reads (`[CLS]` and `[SEP]` included).

    Example:
    >>> viewer = tfbert.AttentionViewer.from_pretrained("runs/demo/model")  # doctest: +SKIP
    >>> view = viewer("我爱北京天安门")                                     # doctest: +SKIP
    >>> view.weights.shape, view.tokens[:3]                                # doctest: +SKIP
    ((2, 2, 9, 9), ['[CLS]', '我', '爱'])
    >>> view.save("attention.html")                                        # doctest: +SKIP
    """

    def __init__(self, encoder, tokenizer, max_length: int):
        import tensorflow as tf

        self.encoder = encoder
        self.tokenizer = tokenizer
        self.max_length = max_length
        spec = {k: tf.TensorSpec([None, None], tf.int32)
                for k in ("token_ids", "segment_ids", "padding_mask")}
        # (batch, layers, heads, seq, seq), one trace for every shape.
        self._probs = tf.function(
            lambda inputs: tf.stack(encoder.call_with_internals(
                inputs, training=False)["attention_probs"], axis=1),
            input_signature=[spec])

    @classmethod
    def from_pretrained(cls, name_or_path, max_length: int | None = None):
        """The encoder of `name_or_path`: a checkpoint name (`all-MiniLM-L6-v2`), a tfbert
        model directory of any task, or any checkpoint directory tfbert reads.
        `max_length` (pieces, special tokens included) defaults to the checkpoint's."""
        from tfbert.applications.encoder_source import load_encoder

        return cls(*load_encoder(name_or_path, max_length))

    def __call__(self, text: str, pair: str | None = None) -> AttentionMap:
        """The `AttentionMap` of `text` (and `pair`), cut to `max_length` pieces."""
        for name, value in (("text", text), ("pair", pair)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name}: expected a string. Received: {type(value).__name__}")
        inputs = self.tokenizer([text], None if pair is None else [pair],
                                max_length=self.max_length)
        n = int(inputs["padding_mask"][0].sum())
        weights = self.weights(inputs)[0, :, :, :n, :n]
        return AttentionMap(tokens=[self.tokenizer.vocab[i] for i in inputs["token_ids"][0, :n]],
                            segment_ids=inputs["segment_ids"][0, :n].tolist(),
                            weights=weights, text=text, pair=pair)

    def weights(self, inputs) -> np.ndarray:
        """`(batch, layers, heads, seq, seq)` float32 probabilities for encoder inputs
        (`token_ids`, `segment_ids`, `padding_mask`; padded rows give padded keys 0)."""
        return self._probs({k: np.asarray(inputs[k], "int32") for k in
                            ("token_ids", "segment_ids", "padding_mask")}).numpy()
