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
    dtype policy, so padded keys get exactly zero weight under float16 and bfloat16. Off the
    TensorFlow backend, where neither the probabilities nor dropout on them are needed,
    the attention is `keras.ops.dot_product_attention` (fused; flash attention on GPUs).

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

    def call(self, inputs, padding_mask, training=None, return_probs=False):
        """`(batch, seq, hidden)`; with `return_probs=True` also the attention
        probabilities `(batch, heads, seq_q, seq_k)` in float32, before dropout (what
        distillation transfers)."""
        batch, seq = ops.shape(inputs)[0], ops.shape(inputs)[1]
        # (batch, seq, heads, head_size) each.
        q, k, v = (ops.reshape(layer(inputs), (batch, seq, self.num_heads, self.head_size))
                   for layer in (self.query, self.key, self.value))
        dropping = bool(training) and self.dropout > 0
        if keras.backend.backend() != "tensorflow" and not (return_probs or dropping):
            # Keras's fused attention (JAX: cuDNN flash attention on a GPU where Keras
            # supports it, else one XLA computation; the softmax in float32), padded keys
            # masked out. On TensorFlow Keras has no fused kernel, and the exports (SavedModel,
            # TFLite) keep the explicit graph below, which they are checked against.
            key_mask = ops.cast(padding_mask, "bool")[:, None, None, :]
            context = ops.dot_product_attention(q, k, v, mask=key_mask,
                                                scale=1.0 / math.sqrt(self.head_size))
            return ops.reshape(context, (batch, seq, self.hidden_size))
        # The explicit form, where the probabilities are needed (dropout on them, or
        # returned): (batch, heads, seq_q, seq_k) scores, softmax in float32.
        q, k, v = (ops.transpose(x, (0, 2, 1, 3)) for x in (q, k, v))
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2)))
        scores = ops.cast(scores, "float32") / math.sqrt(self.head_size)
        # (batch, 1, 1, seq_k): padded keys get a large negative bias.
        key_mask = ops.cast(padding_mask, "float32")[:, None, None, :]
        scores = scores + (1.0 - key_mask) * _MASK_BIAS
        attention = ops.softmax(scores, axis=-1)
        probs = self.dropout_layer(ops.cast(attention, self.compute_dtype), training=training)
        # (batch, heads, seq, head_size) -> (batch, seq, hidden)
        context = ops.transpose(ops.matmul(probs, v), (0, 2, 1, 3))
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
