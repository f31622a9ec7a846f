"""The tokenizer as a Keras layer: strings in, the encoder's dict out."""

import keras

from tfbert.tokenization.bert_tokenizer import BertTokenizer


@keras.saving.register_keras_serializable(package="tfbert")
class BertTokenizerLayer(keras.layers.Layer):
    """Tokenizes and packs a batch of strings (and optional second strings) to
    `max_length` inside a Keras model or a `tf.data` map (TensorFlow backend).

    Args:
        vocab: the word pieces, in id order.
        lowercase: lower case and strip accents (uncased models).
        max_length: length of every output row.

    Example:
    >>> layer = BertTokenizerLayer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello"], max_length=5)
    >>> layer(tf.constant(["Hello!"]))["token_ids"].numpy().tolist()
    [[2, 4, 1, 3, 0]]
    """

    def __init__(self, vocab, lowercase=True, max_length=128, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.vocab = list(vocab)
        self.lowercase = lowercase
        self.max_length = max_length
        self.tokenizer = BertTokenizer(self.vocab, lowercase=lowercase)

    def call(self, texts, pairs=None):
        return self.tokenizer.encode(texts, pairs, max_length=self.max_length)

    def compute_output_spec(self, texts, pairs=None):
        shape = (texts.shape[0], self.max_length)
        return {key: keras.KerasTensor(shape, dtype="int32")
                for key in ("token_ids", "segment_ids", "padding_mask")}

    def get_config(self):
        config = super().get_config()
        config.update(vocab=self.vocab, lowercase=self.lowercase, max_length=self.max_length)
        config.pop("trainable", None)
        return config
