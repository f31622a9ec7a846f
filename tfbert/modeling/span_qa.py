"""Extractive question answering head: start and end logits over the context."""

import keras

from tfbert.modeling.task_model import TaskModel


@keras.saving.register_keras_serializable(package="tfbert")
class BertSpanQA(TaskModel):
    """A dense layer of width 2 over `sequence_output`, split into start and end logits.

    The layout of SQuAD fine-tuning in google-research/bert and Hugging Face's
    `BertForQuestionAnswering` (`qa_outputs`). Outputs `start_logits` and `end_logits`,
    each `(batch, seq)` in float32; padded positions get a large negative logit so a
    softmax over the sequence never picks them.

    Example:
    >>> encoder = BertEncoder.from_bert_config(BertConfig.from_name("tiny", vocab_size=100))
    >>> model = BertSpanQA(encoder)
    >>> ids = np.array([[2, 7, 3, 9, 3, 0]])
    >>> out = model({"token_ids": ids, "segment_ids": np.array([[0, 0, 0, 1, 1, 0]]),
    ...              "padding_mask": (ids != 0).astype("int32")})
    >>> tuple(out["start_logits"].shape), tuple(out["end_logits"].shape)
    ((1, 6), (1, 6))
    """

    def __init__(self, encoder, **kwargs):
        self.encoder = encoder
        self.span_classifier = keras.layers.Dense(
            2, dtype="float32", name="span_classifier",
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=encoder.initializer_range))
        inputs = encoder.input
        super().__init__(inputs=inputs, outputs=self.head(encoder(inputs), inputs), **kwargs)

    def head(self, encoded, inputs, training=None):
        """The head alone: start and end logits from the encoder's outputs `encoded` (and
        the padding mask of `inputs`); the model is this over `encoder(inputs)`."""
        logits = self.span_classifier(encoded["sequence_output"])  # (batch, seq, 2)
        padding_bias = (1.0 - keras.ops.cast(inputs["padding_mask"], "float32")) * -1e4
        return {"start_logits": logits[:, :, 0] + padding_bias,
                "end_logits": logits[:, :, 1] + padding_bias}
