"""Multi-head self-attention honouring a padding mask."""

import math

import keras
from keras import ops

# Added to the scores of padded keys before the softmax, which always runs in float32.
_MASK_BIAS = -1e9


@keras.saving.register_keras_serializable(package="tfbert")
class SelfAttention(keras.layers.Layer):
    """Scaled dot-product self-attention over `num_heads` heads.

    Query, key and value are three dense projections of the same input (the layout of
    every BERT checkpoint); the scores and softmax are computed in float32 whatever the
    dtype policy, so padded keys get exactly zero weight under float16 and bfloat16.

    Args:
        hidden_size: width of the input and output.
        num_heads: attention heads; `hidden_size` must divide by it.
        dropout: dropout rate on the attention probabilities.
        initializer_range: stddev of the truncated-normal initialiser.

    Example:
    >>> layer = SelfAttention(hidden_size=8, num_heads=2)
    >>> x = np.ones((1, 3, 8), "float32")
    >>> tuple(layer(x, np.array([[1, 1, 0]])).shape)
    (1, 3, 8)
    """

    def __init__(self, hidden_size, num_heads, dropout=0.1, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        if hidden_size % num_heads:
            raise ValueError(
                "hidden_size must be divisible by num_heads. "
                f"Received: hidden_size={hidden_size}, num_heads={num_heads}")
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.dropout = dropout
        self.initializer_range = initializer_range
        self.head_size = hidden_size // num_heads

        def dense(name):
            return keras.layers.Dense(
                hidden_size, name=name, dtype=self.dtype_policy,
                kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range))

        self.query = dense("query")
        self.key = dense("key")
        self.value = dense("value")
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")

    def build(self, inputs_shape, padding_mask_shape=None):
        for layer in (self.query, self.key, self.value):
            layer.build(inputs_shape)
        self.built = True

    def _split_heads(self, x):
        # (batch, seq, hidden) -> (batch, heads, seq, head_size)
        batch, seq = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (batch, seq, self.num_heads, self.head_size))
        return ops.transpose(x, (0, 2, 1, 3))

    def call(self, inputs, padding_mask, training=None, return_probs=False):
        """`(batch, seq, hidden)`; with `return_probs=True` also the attention
        probabilities `(batch, heads, seq_q, seq_k)` in float32, before dropout (what
        distillation transfers)."""
        q = self._split_heads(self.query(inputs))
        k = self._split_heads(self.key(inputs))
        v = self._split_heads(self.value(inputs))
        # (batch, heads, seq_q, seq_k), in float32 for a stable softmax.
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2)))
        scores = ops.cast(scores, "float32") / math.sqrt(self.head_size)
        # (batch, 1, 1, seq_k): padded keys get a large negative bias.
        key_mask = ops.cast(padding_mask, "float32")[:, None, None, :]
        scores = scores + (1.0 - key_mask) * _MASK_BIAS
        attention = ops.softmax(scores, axis=-1)
        probs = self.dropout_layer(ops.cast(attention, self.compute_dtype), training=training)
        # (batch, heads, seq, head_size) -> (batch, seq, hidden)
        context = ops.transpose(ops.matmul(probs, v), (0, 2, 1, 3))
        batch, seq = ops.shape(context)[0], ops.shape(context)[1]
        context = ops.reshape(context, (batch, seq, self.hidden_size))
        return (context, attention) if return_probs else context

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        return tuple(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            dropout=self.dropout,
            initializer_range=self.initializer_range,
        )
        return config
