"""One post-LayerNorm BERT block: self-attention and feed-forward, each with a residual."""

import keras

from tfbert.modeling.activations import get_activation
from tfbert.modeling.attention import SelfAttention


@keras.saving.register_keras_serializable(package="tfbert")
class TransformerBlock(keras.layers.Layer):
    """`x = LN(x + Drop(Dense(Attn(x))))`, then `x = LN(x + Drop(Dense(act(Dense(x)))))`.

    Args:
        hidden_size: width of the block's input and output.
        num_heads: attention heads.
        intermediate_size: width of the feed-forward layer.
        activation: `"gelu"` (exact), `"gelu_tanh"`, `"relu"` or `"tanh"`.
        dropout: dropout rate on each sub-layer's output.
        attention_dropout: dropout rate on the attention probabilities.
        layer_norm_eps: LayerNorm epsilon.
        initializer_range: stddev of the truncated-normal initialiser.

    Example:
    >>> block = TransformerBlock(hidden_size=8, num_heads=2, intermediate_size=16)
    >>> x = np.ones((2, 5, 8), "float32")
    >>> tuple(block(x, np.ones((2, 5))).shape)
    (2, 5, 8)
    """

    def __init__(self, hidden_size, num_heads, intermediate_size, activation="gelu",
                 dropout=0.1, attention_dropout=0.1, layer_norm_eps=1e-12,
                 initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.activation = activation
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range

        policy = self.dtype_policy
        init = keras.initializers.TruncatedNormal(stddev=initializer_range)
        self.attention = SelfAttention(
            hidden_size, num_heads, dropout=attention_dropout,
            initializer_range=initializer_range, dtype=policy, name="attention")
        self.attention_output = keras.layers.Dense(
            hidden_size, kernel_initializer=init, dtype=policy, name="attention_output")
        self.attention_dropout_layer = keras.layers.Dropout(
            dropout, dtype=policy, name="attention_output_dropout")
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, dtype=policy, name="attention_layer_norm")
        self.intermediate = keras.layers.Dense(
            intermediate_size, activation=get_activation(activation), kernel_initializer=init,
            dtype=policy, name="intermediate")
        self.output_dense = keras.layers.Dense(
            hidden_size, kernel_initializer=init, dtype=policy, name="output")
        self.output_dropout_layer = keras.layers.Dropout(
            dropout, dtype=policy, name="output_dropout")
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, dtype=policy, name="output_layer_norm")

    def build(self, inputs_shape, padding_mask_shape=None):
        inputs_shape = tuple(inputs_shape)
        inner_shape = inputs_shape[:-1] + (self.intermediate_size,)
        self.attention.build(inputs_shape)
        self.attention_output.build(inputs_shape)
        self.attention_layer_norm.build(inputs_shape)
        self.intermediate.build(inputs_shape)
        self.output_dense.build(inner_shape)
        self.output_layer_norm.build(inputs_shape)
        self.built = True

    def call(self, inputs, padding_mask, training=None, return_attention_probs=False):
        """`(batch, seq, hidden)`; with `return_attention_probs=True` also the attention
        probabilities `(batch, heads, seq, seq)` (see `SelfAttention.call`)."""
        # (batch, seq, hidden) throughout, except the intermediate (batch, seq, intermediate).
        attended = self.attention(inputs, padding_mask, training=training,
                                  return_probs=return_attention_probs)
        if return_attention_probs:
            attended, probs = attended
        attended = self.attention_dropout_layer(self.attention_output(attended), training=training)
        x = self.attention_layer_norm(inputs + attended)
        hidden = self.output_dense(self.intermediate(x))
        hidden = self.output_dropout_layer(hidden, training=training)
        output = self.output_layer_norm(x + hidden)
        return (output, probs) if return_attention_probs else output

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        return tuple(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            intermediate_size=self.intermediate_size,
            activation=self.activation,
            dropout=self.dropout,
            attention_dropout=self.attention_dropout,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config
