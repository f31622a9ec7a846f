"""Sequence classification head: single texts or pairs, multi-class or multi-label."""

import keras

from tfbert.modeling.task_model import TaskModel


@keras.saving.register_keras_serializable(package="tfbert")
class BertClassifier(TaskModel):
    """Dropout and a dense layer over the encoder's pooled `[CLS]` output.

    Outputs `logits` `(batch, num_classes)` in float32 under any dtype policy. With
    `multi_label=False` the classes are exclusive (softmax); with `multi_label=True` each
    is an independent yes/no (sigmoid). Pairs need nothing special: the tokenizer packs
    `[CLS] a [SEP] b [SEP]` with segment ids 0 and 1.

    Example:
    >>> encoder = BertEncoder.from_bert_config(BertConfig.from_name("tiny", vocab_size=100))
    >>> model = BertClassifier(encoder, num_classes=3)
    >>> ids = np.array([[2, 7, 3, 0]])
    >>> out = model({"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...              "padding_mask": (ids != 0).astype("int32")})
    >>> tuple(out["logits"].shape)
    (1, 3)
    """

    def __init__(self, encoder, num_classes, multi_label=False, dropout=0.1, **kwargs):
        if num_classes < 1:
            raise ValueError(f"num_classes must be at least 1. Received: num_classes={num_classes}")
        # === Layers ===
        self.encoder = encoder
        self.dropout_layer = keras.layers.Dropout(dropout, name="classifier_dropout")
        self.classifier = keras.layers.Dense(
            num_classes, dtype="float32", name="classifier",
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=encoder.initializer_range))
        # === Functional model ===
        inputs = encoder.input
        pooled = encoder(inputs)["pooled_output"]
        logits = self.classifier(self.dropout_layer(pooled))
        super().__init__(inputs=inputs, outputs={"logits": logits}, **kwargs)
        # === Config ===
        self.num_classes = num_classes
        self.multi_label = multi_label
        self.dropout = dropout

    def _task_config(self):
        return {"num_classes": self.num_classes, "multi_label": self.multi_label,
                "dropout": self.dropout}
