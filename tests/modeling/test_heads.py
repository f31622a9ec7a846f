import keras
import numpy as np
import pytest

from tfbert.modeling import (BertClassifier, BertEncoder, BertPretrainer, BertSpanQA,
                             BertTokenClassifier)


@pytest.fixture
def encoder(tiny_config):
    keras.utils.set_random_seed(1)
    return BertEncoder.from_bert_config(tiny_config)


HEADS = [
    (lambda enc: BertClassifier(enc, num_classes=3), {"logits": (3, 3)}),
    (lambda enc: BertClassifier(enc, num_classes=4, multi_label=True), {"logits": (3, 4)}),
    (lambda enc: BertClassifier(enc, num_classes=2, pooling="mean"), {"logits": (3, 2)}),
    (lambda enc: BertTokenClassifier(enc, num_labels=7), {"logits": (3, 12, 7)}),
    (lambda enc: BertSpanQA(enc), {"start_logits": (3, 12), "end_logits": (3, 12)}),
]


@pytest.mark.parametrize("build,shapes", HEADS)
def test_head_shapes_config_and_weights(encoder, make_inputs, tmp_path, build, shapes):
    model = build(encoder)
    inputs = make_inputs(pair=True)
    out = model(inputs)
    assert {k: tuple(v.shape) for k, v in out.items()} == shapes
    assert all(v.dtype == "float32" for v in out.values())
    clone = model.__class__.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    clone.set_weights(model.get_weights())
    for key in out:
        np.testing.assert_allclose(clone(inputs)[key], out[key], atol=1e-6)
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    for key in out:
        np.testing.assert_allclose(restored(inputs)[key], out[key], atol=1e-6)


def test_head_logits_float32_under_mixed_precision(tiny_config, make_inputs):
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = BertClassifier(BertEncoder.from_bert_config(tiny_config), num_classes=2)
    assert model(make_inputs())["logits"].dtype == "float32"


def test_span_qa_never_points_at_padding(encoder, make_inputs):
    inputs = make_inputs(seed=2)
    out = BertSpanQA(encoder)(inputs)
    padded = inputs["padding_mask"] == 0
    assert padded.any()
    assert (out["start_logits"].numpy()[padded] < -1000).all()


def test_pretrainer_ties_mlm_output_to_token_embedding(encoder, make_inputs):
    model = BertPretrainer(encoder)
    inputs = make_inputs()
    inputs["masked_positions"] = np.array([[1, 3], [0, 1], [1, 1]], "int32")
    out = model(inputs)
    assert tuple(out["mlm_logits"].shape) == (3, 2, 97)
    assert tuple(out["nsp_logits"].shape) == (3, 2)
    # The only new weights are the transform, its LayerNorm, the bias and NSP.
    assert len(model.weights) == len(encoder.weights) + 5 + 2
    # Logits equal the transformed hidden state times the embedding matrix, plus bias.
    encoder_inputs = {k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    sequence = encoder(encoder_inputs)["sequence_output"].numpy()
    head = model.masked_lm
    gathered = np.take_along_axis(sequence, inputs["masked_positions"][:, :, None], axis=1)
    transformed = head.layer_norm(head.transform(gathered)).numpy()
    embeddings = encoder.token_embedding.embeddings.numpy()
    expected = transformed @ embeddings.T + head.output_bias.numpy()
    np.testing.assert_allclose(out["mlm_logits"], expected, atol=1e-5)
    encoder.token_embedding.embeddings.assign(embeddings * 2)
    assert not np.allclose(model(inputs)["mlm_logits"], out["mlm_logits"])


def test_pretrainer_without_nsp_and_round_trip(encoder, make_inputs):
    model = BertPretrainer(encoder, next_sentence=False)
    inputs = dict(make_inputs(), masked_positions=np.zeros((3, 1), "int32"))
    assert set(model(inputs)) == {"mlm_logits"}
    clone = BertPretrainer.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone(inputs)["mlm_logits"], model(inputs)["mlm_logits"],
                               atol=1e-6)


def test_mean_pooling_reads_the_average_of_the_unpadded_positions(encoder, make_inputs):
    model = BertClassifier(encoder, num_classes=3, pooling="mean")
    inputs = make_inputs(seed=3)
    mask = inputs["padding_mask"]
    assert (mask == 0).any()
    sequence = encoder(inputs)["sequence_output"].numpy()
    mean = (sequence * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
    kernel, bias = model.classifier.get_weights()
    logits = model(inputs)["logits"].numpy()
    np.testing.assert_allclose(logits, mean @ kernel + bias, atol=1e-5)
    # Not the [CLS] head: the pooler's output gives other logits.
    pooled = encoder(inputs)["pooled_output"].numpy()
    assert not np.allclose(logits, pooled @ kernel + bias, atol=1e-3)
    # More padding changes nothing; a padded position's token does not matter either.
    padded = {k: np.pad(v, ((0, 0), (0, 5))) for k, v in inputs.items()}
    np.testing.assert_allclose(model(padded)["logits"], logits, atol=1e-5)
    noisy = dict(padded, token_ids=np.where(padded["padding_mask"] == 0, 5,
                                            padded["token_ids"]).astype("int32"))
    np.testing.assert_allclose(model(noisy)["logits"], logits, atol=1e-5)


def test_invalid_head_sizes(encoder):
    with pytest.raises(ValueError, match="num_classes=0"):
        BertClassifier(encoder, num_classes=0)
    with pytest.raises(ValueError, match="pooling='max'"):
        BertClassifier(encoder, num_classes=2, pooling="max")
    with pytest.raises(ValueError, match="num_labels=0"):
        BertTokenClassifier(encoder, num_labels=0)
