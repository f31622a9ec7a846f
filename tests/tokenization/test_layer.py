import doctest

import keras
import numpy as np
import tensorflow as tf

import tfbert.tokenization.layer
from tfbert.config import BertConfig
from tfbert.modeling import BertEncoder
from tfbert.tokenization import BertTokenizer, BertTokenizerLayer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "好", "!", "##s"]


def test_docstring_example():
    result = doctest.testmod(tfbert.tokenization.layer, extraglobs={"tf": tf})
    assert result.attempted and not result.failed


def test_layer_matches_tokenizer_and_feeds_the_encoder(tmp_path):
    layer = BertTokenizerLayer(VOCAB, max_length=8)
    texts = tf.constant(["Hello worlds!", "好 好"])
    expected = BertTokenizer(VOCAB)(["Hello worlds!", "好 好"], max_length=8,
                                    pad_to_max_length=True)
    got = layer(texts)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])
    # strings in, encoder outputs out, in one Keras model
    encoder = BertEncoder.from_bert_config(BertConfig.from_name("tiny", vocab_size=len(VOCAB)))
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, encoder(layer(inputs))["pooled_output"])
    np.testing.assert_allclose(model(texts), encoder(expected)["pooled_output"], atol=1e-6)
    clone = BertTokenizerLayer.from_config(layer.get_config())
    np.testing.assert_array_equal(clone(texts)["token_ids"], got["token_ids"])
    pairs = layer(texts, tf.constant(["world", "hello"]))
    assert pairs["segment_ids"].numpy()[0].tolist() == [0, 0, 0, 0, 0, 0, 1, 1]
