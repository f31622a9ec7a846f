"""The encoder equals keras-hub's BertBackbone given the same weights."""

import keras
import numpy as np
import pytest

from tfbert.convert.keras_hub import assign_to_backbone, config_from_backbone, tensors_from_backbone
from tfbert.model_dir import assign_weights
from tfbert.modeling import BertEncoder

keras_hub = pytest.importorskip("keras_hub")


def _backbone(seed=0):
    keras.utils.set_random_seed(seed)
    return keras_hub.models.BertBackbone(
        vocabulary_size=101, num_layers=2, num_heads=4, hidden_dim=32, intermediate_dim=64,
        max_sequence_length=24)


def test_encoder_matches_keras_hub_backbone(make_inputs):
    backbone = _backbone()
    # keras-hub initialises biases and LayerNorm to 0/1; randomise every weight so
    # that a wrongly mapped tensor cannot hide.
    rng = np.random.default_rng(0)
    for weight in backbone.weights:
        weight.assign(rng.normal(0, 0.3, weight.shape).astype("float32"))
    config = config_from_backbone(backbone)
    assert config.hidden_act == "gelu_tanh"
    encoder = BertEncoder.from_bert_config(config)
    assign_weights(encoder, tensors_from_backbone(backbone), source="keras-hub")
    inputs = make_inputs(batch=4, seq=24, vocab=101, seed=7, pair=True)
    expected, got = backbone(inputs), encoder(inputs)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(got[key], expected[key], atol=1e-5)


def test_weights_round_trip_to_backbone():
    source = _backbone(1)
    tensors = tensors_from_backbone(source)
    target = _backbone(2)
    assign_to_backbone(target, tensors)
    for a, b in zip(source.weights, target.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
