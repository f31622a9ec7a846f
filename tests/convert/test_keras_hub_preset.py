import keras
import numpy as np
import pytest

import tfbert
from tfbert.convert import detect_format

keras_hub = pytest.importorskip("keras_hub")


def test_keras_hub_preset_directory_loads(tmp_path, make_inputs):
    keras.utils.set_random_seed(3)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=101, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=20)
    rng = np.random.default_rng(1)
    for weight in backbone.weights:
        weight.assign(rng.normal(0, 0.3, weight.shape).astype("float32"))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(96)]
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocab, lowercase=False)
    preset = tmp_path / "preset"
    backbone.save_to_preset(str(preset))
    tokenizer.save_to_preset(str(preset))
    assert detect_format(preset) == "keras-hub"
    encoder = tfbert.load(preset)
    inputs = make_inputs(batch=2, seq=20, vocab=101, pair=True)
    expected = backbone(inputs)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(encoder(inputs)[key], expected[key], atol=1e-5)
    from tfbert.convert import read_checkpoint

    checkpoint = read_checkpoint(preset)
    assert checkpoint.spec.lowercase is False
    assert checkpoint.vocab_file and checkpoint.vocab_file.endswith("vocabulary.txt")
