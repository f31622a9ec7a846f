"""The pre-training model: masked LM (tied to the token embedding) plus next-sentence."""

import keras

from tfbert.modeling.masked_lm_head import MaskedLMHead
from tfbert.modeling.task_model import TaskModel


@keras.saving.register_keras_serializable(package="tfbert")
class BertPretrainer(TaskModel):
    """BERT's pre-training heads on an encoder; also the fill-mask model.

    Inputs: the encoder's three plus `masked_positions` `(batch, num_masked)` int32.
    Outputs (float32): `mlm_logits` `(batch, num_masked, vocab)` and, with
    `next_sentence=True`, `nsp_logits` `(batch, 2)` (index 0 = "B follows A", as in
    google-research/bert).

    Example:
    >>> encoder = BertEncoder.from_bert_config(BertConfig.from_name("tiny", vocab_size=100))
    >>> model = BertPretrainer(encoder)
    >>> ids = np.array([[2, 4, 7, 3]])
    >>> out = model({"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...              "padding_mask": np.ones_like(ids), "masked_positions": np.array([[1]])})
    >>> tuple(out["mlm_logits"].shape), tuple(out["nsp_logits"].shape)
    ((1, 1, 100), (1, 2))
    """

    def __init__(self, encoder, next_sentence=True, **kwargs):
        self.encoder = encoder
        self.masked_lm = MaskedLMHead(
            encoder.token_embedding, activation=encoder.activation,
            layer_norm_eps=encoder.layer_norm_eps,
            initializer_range=encoder.initializer_range, name="masked_lm")
        if next_sentence:
            self.next_sentence_head = keras.layers.Dense(
                2, dtype="float32", name="next_sentence",
                kernel_initializer=keras.initializers.TruncatedNormal(
                    stddev=encoder.initializer_range))
        inputs = dict(encoder.input)
        inputs["masked_positions"] = keras.Input(
            shape=(None,), dtype="int32", name="masked_positions")
        encoded = encoder({k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")})
        outputs = {"mlm_logits": self.masked_lm(encoded["sequence_output"],
                                                inputs["masked_positions"])}
        if next_sentence:
            outputs["nsp_logits"] = self.next_sentence_head(encoded["pooled_output"])
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.next_sentence = next_sentence

    def _task_config(self):
        return {"next_sentence": self.next_sentence}
