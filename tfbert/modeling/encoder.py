"""The BERT encoder as a functional Keras model with dict inputs and outputs."""

import keras
from keras import ops

from tfbert.modeling.embeddings import BertEmbeddings
from tfbert.modeling.transformer_block import TransformerBlock


@keras.saving.register_keras_serializable(package="tfbert")
class BertEncoder(keras.Model):
    """BERT: embeddings, `num_layers` post-LN transformer blocks and a tanh pooler.

    Inputs (int32, `(batch, seq)`): `token_ids`, `segment_ids`, `padding_mask` (1 for real
    tokens, 0 for padding). Outputs: `sequence_output` `(batch, seq, hidden)` and
    `pooled_output` `(batch, hidden)` (tanh dense over `[CLS]`); with
    `return_all_hidden_states=True` also `hidden_states` `(batch, num_layers + 1, seq,
    hidden)`: the embeddings' output followed by each block's.

    Sub-layers are named `embeddings`, `block_0` ... `block_{n-1}` and `pooler`; inside a
    block `attention/{query,key,value}`, `attention_output`, `attention_layer_norm`,
    `intermediate`, `output`, `output_layer_norm` (the names `tfbert.convert` maps).

    Example:
    >>> encoder = BertEncoder.from_bert_config(BertConfig.from_name("tiny", vocab_size=100))
    >>> ids = np.array([[2, 7, 9, 3, 0]])
    >>> out = encoder({"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...                "padding_mask": (ids != 0).astype("int32")})
    >>> tuple(out["sequence_output"].shape), tuple(out["pooled_output"].shape)
    ((1, 5, 128), (1, 128))
    """

    def __init__(self, vocab_size, num_layers, hidden_size, num_heads, intermediate_size,
                 max_position_embeddings=512, type_vocab_size=2, dropout=0.1,
                 attention_dropout=0.1, activation="gelu", layer_norm_eps=1e-12,
                 initializer_range=0.02, return_all_hidden_states=False, dtype=None,
                 **kwargs):
        # === Layers ===
        self.embeddings = BertEmbeddings(
            vocab_size, hidden_size, max_position_embeddings=max_position_embeddings,
            type_vocab_size=type_vocab_size, dropout=dropout, layer_norm_eps=layer_norm_eps,
            initializer_range=initializer_range, dtype=dtype, name="embeddings")
        self.blocks = [
            TransformerBlock(
                hidden_size, num_heads, intermediate_size, activation=activation,
                dropout=dropout, attention_dropout=attention_dropout,
                layer_norm_eps=layer_norm_eps, initializer_range=initializer_range,
                dtype=dtype, name=f"block_{i}")
            for i in range(num_layers)
        ]
        self.pooler = keras.layers.Dense(
            hidden_size, activation="tanh", dtype=dtype, name="pooler",
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range))

        # === Functional model ===
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("token_ids", "segment_ids", "padding_mask")
        }
        x = self.embeddings(inputs["token_ids"], inputs["segment_ids"])
        hidden_states = [x]
        for block in self.blocks:
            x = block(x, inputs["padding_mask"])
            hidden_states.append(x)
        outputs = {"sequence_output": x, "pooled_output": self.pooler(x[:, 0, :])}
        if return_all_hidden_states:
            outputs["hidden_states"] = ops.stack(hidden_states, axis=1)
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.vocab_size = vocab_size
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation = activation
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.return_all_hidden_states = return_all_hidden_states

    def call_with_internals(self, inputs, training=None):
        """The encoder's outputs, computed layer by layer with the same weights, plus what
        distillation compares: `hidden_states`, a list of `num_layers + 1` tensors `(batch,
        seq, hidden)` (the embeddings' output, then each block's), and `attention_probs`, a
        list of one `(batch, heads, seq, seq)` float32 tensor per block."""
        x = self.embeddings(inputs["token_ids"], inputs["segment_ids"], training=training)
        hidden_states, attention_probs = [x], []
        for block in self.blocks:
            x, probs = block(x, inputs["padding_mask"], training=training,
                             return_attention_probs=True)
            hidden_states.append(x)
            attention_probs.append(probs)
        return {"sequence_output": x, "pooled_output": self.pooler(x[:, 0, :]),
                "hidden_states": hidden_states, "attention_probs": attention_probs}

    @property
    def token_embedding(self):
        """The `(vocab, hidden)` embedding layer that an MLM head ties its output to."""
        return self.embeddings.token_embedding

    @classmethod
    def from_bert_config(cls, config, **kwargs):
        """Builds the encoder a `tfbert.config.BertConfig` describes."""
        return cls(
            vocab_size=config.vocab_size,
            num_layers=config.num_layers,
            hidden_size=config.hidden_size,
            num_heads=config.num_heads,
            intermediate_size=config.intermediate_size,
            max_position_embeddings=config.max_position_embeddings,
            type_vocab_size=config.type_vocab_size,
            dropout=config.hidden_dropout,
            attention_dropout=config.attention_dropout,
            activation=config.hidden_act,
            layer_norm_eps=config.layer_norm_eps,
            initializer_range=config.initializer_range,
            **kwargs,
        )

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "vocab_size": self.vocab_size,
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "num_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "max_position_embeddings": self.max_position_embeddings,
            "type_vocab_size": self.type_vocab_size,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "activation": self.activation,
            "layer_norm_eps": self.layer_norm_eps,
            "initializer_range": self.initializer_range,
            "return_all_hidden_states": self.return_all_hidden_states,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(**config)
