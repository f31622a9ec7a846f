"""The masked-language-model head with output weights tied to the token embedding."""

import keras
from keras import ops

from tfbert.modeling.activations import get_activation


@keras.saving.register_keras_serializable(package="tfbert")
class MaskedLMHead(keras.layers.Layer):
    """Gathers the masked positions, transforms them (dense, activation, LayerNorm as in
    the original BERT) and scores every word piece against the token embedding matrix.

    Args:
        token_embedding: the encoder's `keras.layers.Embedding`; its `(vocab, hidden)`
            matrix is reused as the output projection, so the head adds only the transform
            and a `(vocab,)` output bias.
        activation: the encoder's activation name.
        layer_norm_eps: LayerNorm epsilon.
        initializer_range: stddev of the truncated-normal initialiser.

    Call arguments: `sequence_output` `(batch, seq, hidden)` and `masked_positions`
    `(batch, num_masked)` int32. Returns float32 logits `(batch, num_masked, vocab)`.
    """

    def __init__(self, token_embedding, activation="gelu", layer_norm_eps=1e-12,
                 initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = token_embedding
        self.activation = activation
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.vocab_size, self.hidden_size = token_embedding.input_dim, token_embedding.output_dim
        self.transform = keras.layers.Dense(
            self.hidden_size, activation=get_activation(activation), name="transform",
            dtype=self.dtype_policy,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range))
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, dtype=self.dtype_policy, name="layer_norm")

    def build(self, sequence_output_shape, masked_positions_shape=None):
        self.transform.build((None, None, self.hidden_size))
        self.layer_norm.build((None, None, self.hidden_size))
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.vocab_size,), initializer="zeros")
        self.built = True

    def call(self, sequence_output, masked_positions):
        # (batch, num_masked, hidden): the hidden states at the masked positions.
        positions = ops.cast(masked_positions, "int32")[:, :, None]
        x = ops.take_along_axis(sequence_output, positions, axis=1)
        x = self.layer_norm(self.transform(x))
        # (batch, num_masked, vocab): the product in the compute dtype (bfloat16 under a
        # mixed policy, accumulated in float32 by the hardware), the logits in float32.
        embeddings = ops.cast(self.token_embedding.embeddings, x.dtype)
        logits = ops.matmul(x, ops.transpose(embeddings))
        return ops.cast(logits, "float32") + self.output_bias

    def compute_output_shape(self, sequence_output_shape, masked_positions_shape):
        return tuple(masked_positions_shape) + (self.vocab_size,)

    def compute_output_spec(self, sequence_output, masked_positions):
        return keras.KerasTensor(
            tuple(masked_positions.shape) + (self.vocab_size,), dtype="float32")

    def get_config(self):
        # The tied embedding is not serialised: `BertPretrainer` passes its encoder's.
        config = super().get_config()
        config.update(activation=self.activation, layer_norm_eps=self.layer_norm_eps,
                      initializer_range=self.initializer_range)
        return config
