"""Sequence classification head: single texts or pairs, multi-class or multi-label."""

import keras
from keras import ops

from tfbert.modeling.task_model import TaskModel

POOLINGS = ("cls", "mean")


@keras.saving.register_keras_serializable(package="tfbert")
class MeanPooling(keras.layers.Layer):
    """The average of the encoder's outputs over the positions `padding_mask` marks
    (`[CLS]` and `[SEP]` included), in float32: the sentence embedding that
    sentence-transformers checkpoints (all-MiniLM-L6-v2 and the like) were trained to give.

    Example:
    >>> x = np.array([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]])
    >>> keras.ops.convert_to_numpy(MeanPooling()(x, np.array([[1, 1, 0]])))
    array([[2., 3.]], dtype=float32)
    """

    def call(self, sequence_output, padding_mask):
        mask = ops.expand_dims(ops.cast(padding_mask, "float32"), -1)
        total = ops.sum(ops.cast(sequence_output, "float32") * mask, axis=1)
        return total / ops.maximum(ops.sum(mask, axis=1), 1.0)

    def compute_output_spec(self, sequence_output, padding_mask):
        shape = (sequence_output.shape[0], sequence_output.shape[-1])
        return keras.KerasTensor(shape, dtype="float32")


@keras.saving.register_keras_serializable(package="tfbert")
class BertClassifier(TaskModel):
    """Dropout and a dense layer over a pooled encoding of the input.

    `pooling="cls"` (google-research/bert's head) reads the encoder's pooler: a tanh dense
    over the `[CLS]` position. `pooling="mean"` reads the average of every non-padding
    position instead (`MeanPooling`), the encoding sentence-transformers checkpoints were
    trained for; their pooler was never trained with them.

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

    def __init__(self, encoder, num_classes, multi_label=False, dropout=0.1, pooling="cls",
                 **kwargs):
        if num_classes < 1:
            raise ValueError(f"num_classes must be at least 1. Received: num_classes={num_classes}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}. Received: pooling={pooling!r}")
        # === Layers ===
        self.encoder = encoder
        self.mean_pooling = MeanPooling(name="mean_pooling") if pooling == "mean" else None
        self.dropout_layer = keras.layers.Dropout(dropout, name="classifier_dropout")
        self.classifier = keras.layers.Dense(
            num_classes, dtype="float32", name="classifier",
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=encoder.initializer_range))
        # === Functional model ===
        inputs = encoder.input
        super().__init__(inputs=inputs, outputs=self.head(encoder(inputs), inputs), **kwargs)
        # === Config ===
        self.num_classes = num_classes
        self.multi_label = multi_label
        self.dropout = dropout
        self.pooling = pooling

    def head(self, encoded, inputs, training=None):
        """The head alone: `{"logits"}` from the encoder's outputs `encoded` (and the
        padding mask of `inputs`); the model is this over `encoder(inputs)`."""
        if self.mean_pooling is None:
            pooled = encoded["pooled_output"]
        else:
            pooled = self.mean_pooling(encoded["sequence_output"], inputs["padding_mask"])
        return {"logits": self.classifier(self.dropout_layer(pooled, training=training))}

    def _task_config(self):
        return {"num_classes": self.num_classes, "multi_label": self.multi_label,
                "dropout": self.dropout, "pooling": self.pooling}
