import ast
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfbert.modeling
from tfbert.modeling import BertEncoder


def _encoder(config, **kwargs):
    keras.utils.set_random_seed(0)
    return BertEncoder.from_bert_config(config, **kwargs)


def test_modeling_imports_keras_only():
    package = pathlib.Path(tfbert.modeling.__file__).parent
    offenders = []
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            offenders += [f"{path.name}: {m}" for m in modules
                          if m.split(".")[0] in ("tensorflow", "tensorflow_text", "tf_keras")]
    assert offenders == []


def test_output_shapes(tiny_config, make_inputs):
    encoder = _encoder(tiny_config)
    out = encoder(make_inputs(batch=3, seq=12))
    assert set(out) == {"sequence_output", "pooled_output"}
    assert tuple(out["sequence_output"].shape) == (3, 12, 32)
    assert tuple(out["pooled_output"].shape) == (3, 32)


@pytest.mark.parametrize("seq", [1, 7, 40])
def test_variable_sequence_lengths(tiny_config, make_inputs, seq):
    encoder = _encoder(tiny_config)
    inputs = make_inputs(batch=2, seq=seq)
    out = encoder(inputs)
    assert tuple(out["sequence_output"].shape) == (2, seq, 32)
    # The same model traced once handles every length.
    predict = tf.function(lambda x: encoder(x)["sequence_output"], reduce_retracing=True)
    np.testing.assert_allclose(predict(inputs), out["sequence_output"], atol=1e-6)


def test_all_hidden_states(tiny_config, make_inputs):
    encoder = _encoder(tiny_config, return_all_hidden_states=True)
    out = encoder(make_inputs(batch=2, seq=5))
    assert tuple(out["hidden_states"].shape) == (2, 3, 5, 32)
    np.testing.assert_array_equal(out["hidden_states"][:, -1], out["sequence_output"])


def test_padding_is_ignored(tiny_config, make_inputs):
    encoder = _encoder(tiny_config)
    inputs = make_inputs(batch=3, seq=10, seed=3)
    mask = inputs["padding_mask"].astype(bool)
    changed = dict(inputs, token_ids=np.where(mask, inputs["token_ids"], 55).astype("int32"))
    a = encoder(inputs)["sequence_output"].numpy()
    b = encoder(changed)["sequence_output"].numpy()
    np.testing.assert_allclose(a[mask], b[mask], atol=1e-6)
    # Padding a sequence further leaves its real positions unchanged.
    wider = {k: np.pad(v, ((0, 0), (0, 6))) for k, v in inputs.items()}
    c = encoder(wider)["sequence_output"].numpy()[:, :10]
    np.testing.assert_allclose(a[mask], c[mask], atol=1e-5)


def test_get_config_round_trip(tiny_config, make_inputs):
    encoder = _encoder(tiny_config)
    clone = BertEncoder.from_config(encoder.get_config())
    assert clone.get_config() == encoder.get_config()
    assert [w.shape for w in clone.weights] == [w.shape for w in encoder.weights]
    assert [w.path for w in clone.weights] == [w.path for w in encoder.weights]


def test_save_and_load_give_same_outputs(tiny_config, make_inputs, tmp_path):
    encoder = _encoder(tiny_config)
    inputs = make_inputs()
    encoder.save(tmp_path / "encoder.keras")
    restored = keras.saving.load_model(tmp_path / "encoder.keras", safe_mode=True)
    np.testing.assert_allclose(restored(inputs)["sequence_output"],
                               encoder(inputs)["sequence_output"], atol=1e-6)
    encoder.save_weights(tmp_path / "w.weights.h5")
    other = BertEncoder.from_config(encoder.get_config())
    other.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_array_equal(other(inputs)["pooled_output"], encoder(inputs)["pooled_output"])


def test_dropout_only_in_training(tiny_config, make_inputs):
    encoder = _encoder(tiny_config)
    inputs = make_inputs()
    np.testing.assert_array_equal(encoder(inputs)["pooled_output"],
                                  encoder(inputs)["pooled_output"])
    assert not np.allclose(encoder(inputs, training=True)["pooled_output"],
                           encoder(inputs, training=True)["pooled_output"])


def test_xla_matches_eager(tiny_config, make_inputs):
    encoder = _encoder(tiny_config)
    inputs = make_inputs()
    compiled = tf.function(lambda x: encoder(x), jit_compile=True)
    expected, got = encoder(inputs), compiled(inputs)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], atol=1e-5)


@pytest.mark.parametrize("policy,tolerance", [("mixed_bfloat16", 0.1), ("mixed_float16", 0.02)])
def test_mixed_precision(tiny_config, make_inputs, policy, tolerance):
    reference = _encoder(tiny_config)
    inputs = make_inputs(seed=5)
    expected = reference(inputs)
    keras.config.set_dtype_policy(policy)
    encoder = BertEncoder.from_bert_config(tiny_config)
    encoder.set_weights(reference.get_weights())
    assert all(w.dtype == "float32" for w in encoder.weights)  # variables stay float32
    out = encoder(inputs)
    compute = policy.split("_")[1]
    assert out["sequence_output"].dtype == compute
    mask = inputs["padding_mask"].astype(bool)
    got = np.asarray(keras.ops.cast(out["sequence_output"], "float32"))
    assert np.isfinite(got).all()
    # LayerNorm output is O(1): a few bf16/fp16 ulps of error at most.
    np.testing.assert_allclose(got[mask], np.asarray(expected["sequence_output"])[mask],
                               atol=tolerance)
