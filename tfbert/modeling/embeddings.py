"""Input embeddings: token + segment + absolute position, then LayerNorm and dropout."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfbert")
class BertEmbeddings(keras.layers.Layer):
    """Sums token, segment and learned position embeddings, then normalises.

    Args:
        vocab_size: number of word pieces.
        hidden_size: width of every embedding.
        max_position_embeddings: longest sequence the position table covers.
        type_vocab_size: number of segment ids (2 for sentence pairs).
        dropout: dropout rate after the LayerNorm.
        layer_norm_eps: LayerNorm epsilon.
        initializer_range: stddev of the truncated-normal initialiser.

    Example:
    >>> layer = BertEmbeddings(vocab_size=100, hidden_size=8)
    >>> ids = np.array([[2, 5, 7]])
    >>> tuple(layer(ids, np.zeros_like(ids)).shape)
    (1, 3, 8)
    """

    def __init__(self, vocab_size, hidden_size, max_position_embeddings=512,
                 type_vocab_size=2, dropout=0.1, layer_norm_eps=1e-12,
                 initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.dropout = dropout
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range

        init = keras.initializers.TruncatedNormal(stddev=initializer_range)
        self.token_embedding = keras.layers.Embedding(
            vocab_size, hidden_size, embeddings_initializer=init,
            dtype=self.dtype_policy, name="token_embedding")
        self.segment_embedding = keras.layers.Embedding(
            type_vocab_size, hidden_size, embeddings_initializer=init,
            dtype=self.dtype_policy, name="segment_embedding")
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, dtype=self.dtype_policy, name="layer_norm")
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")

    def build(self, token_ids_shape, segment_ids_shape=None):
        self.token_embedding.build(token_ids_shape)
        self.segment_embedding.build(token_ids_shape)
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(self.max_position_embeddings, self.hidden_size),
            initializer=keras.initializers.TruncatedNormal(stddev=self.initializer_range))
        self.layer_norm.build(tuple(token_ids_shape) + (self.hidden_size,))
        self.built = True

    def call(self, token_ids, segment_ids, training=None):
        seq_len = ops.shape(token_ids)[1]
        # (batch, seq, hidden) + (seq, hidden) broadcast over the batch.
        x = self.token_embedding(token_ids) + self.segment_embedding(segment_ids)
        positions = ops.cast(self.position_embeddings[:seq_len], x.dtype)
        x = x + positions[None]
        x = self.layer_norm(x)
        return self.dropout_layer(x, training=training)

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return tuple(token_ids_shape) + (self.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            max_position_embeddings=self.max_position_embeddings,
            type_vocab_size=self.type_vocab_size,
            dropout=self.dropout,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config
