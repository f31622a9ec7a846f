"""Token classification head (NER, POS): one label per word piece."""

import keras

from tfbert.modeling.task_model import TaskModel


@keras.saving.register_keras_serializable(package="tfbert")
class BertTokenClassifier(TaskModel):
    """Dropout and a dense layer over every position of `sequence_output`.

    Outputs `logits` `(batch, seq, num_labels)` in float32.

    Example:
    >>> encoder = BertEncoder.from_bert_config(BertConfig.from_name("tiny", vocab_size=100))
    >>> model = BertTokenClassifier(encoder, num_labels=7)
    >>> ids = np.array([[2, 7, 3, 0]])
    >>> out = model({"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...              "padding_mask": (ids != 0).astype("int32")})
    >>> tuple(out["logits"].shape)
    (1, 4, 7)
    """

    def __init__(self, encoder, num_labels, dropout=0.1, **kwargs):
        if num_labels < 1:
            raise ValueError(f"num_labels must be at least 1. Received: num_labels={num_labels}")
        self.encoder = encoder
        self.dropout_layer = keras.layers.Dropout(dropout, name="classifier_dropout")
        self.classifier = keras.layers.Dense(
            num_labels, dtype="float32", name="classifier",
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=encoder.initializer_range))
        inputs = encoder.input
        super().__init__(inputs=inputs, outputs=self.head(encoder(inputs), inputs), **kwargs)
        self.num_labels = num_labels
        self.dropout = dropout

    def head(self, encoded, inputs, training=None):
        """The head alone: `{"logits"}` from the encoder's outputs `encoded`; the model is
        this over `encoder(inputs)`."""
        sequence = self.dropout_layer(encoded["sequence_output"], training=training)
        return {"logits": self.classifier(sequence)}

    def _task_config(self):
        return {"num_labels": self.num_labels, "dropout": self.dropout}
