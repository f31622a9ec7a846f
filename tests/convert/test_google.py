"""Google TF1 checkpoints: written here the way google-research/bert wrote them (a TF1
graph and `tf.compat.v1.train.Saver`), then loaded and compared with a numpy BERT."""

import json

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from numpy_bert import bert_forward, masked_lm_logits, nsp_logits, random_google_weights
from tfbert.convert import convert, read_checkpoint

VOCAB, HIDDEN, LAYERS, HEADS, INTER, MAX_POS = 60, 32, 2, 4, 48, 24


def write_tf1_checkpoint(directory, weights, vocab_lines=VOCAB, with_adam=True):
    """A TF1 checkpoint with the original variable names (and Adam slots, as released)."""
    directory.mkdir(parents=True, exist_ok=True)
    with tf.Graph().as_default():
        variables = [tf.compat.v1.Variable(value, name=name) for name, value in weights.items()]
        if with_adam:
            variables += [tf.compat.v1.Variable(np.zeros_like(value), name=f"{name}/adam_m")
                          for name, value in list(weights.items())[:3]]
            variables.append(tf.compat.v1.Variable(7, dtype=tf.int64, name="global_step"))
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(directory / "bert_model.ckpt"), write_meta_graph=False)
    config = {"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
              "hidden_dropout_prob": 0.1, "hidden_size": HIDDEN, "initializer_range": 0.02,
              "intermediate_size": INTER, "max_position_embeddings": MAX_POS,
              "num_attention_heads": HEADS, "num_hidden_layers": LAYERS,
              "type_vocab_size": 2, "vocab_size": VOCAB}
    (directory / "bert_config.json").write_text(json.dumps(config))
    (directory / "vocab.txt").write_text("".join(f"tok{i}\n" for i in range(vocab_lines)))
    return directory


@pytest.fixture
def weights():
    return random_google_weights(VOCAB, HIDDEN, LAYERS, INTER, MAX_POS)


@pytest.fixture
def google_dir(tmp_path, weights):
    return write_tf1_checkpoint(tmp_path / "uncased_L-2_H-32_A-4", weights)


def test_tf1_checkpoint_loads_and_matches_reference(google_dir, weights, make_inputs):
    encoder = tfbert.load(google_dir)
    assert type(encoder).__name__ == "BertEncoder"
    inputs = make_inputs(batch=3, seq=16, vocab=VOCAB, pair=True)
    expected_seq, expected_pooled = bert_forward(weights, LAYERS, HEADS, **inputs)
    out = encoder(inputs)
    np.testing.assert_allclose(out["sequence_output"], expected_seq, atol=1e-5)
    np.testing.assert_allclose(out["pooled_output"], expected_pooled, atol=1e-5)


def test_pretraining_heads_load(google_dir, weights, make_inputs):
    model = tfbert.load(google_dir, task="pretrain")
    inputs = make_inputs(batch=2, seq=10, vocab=VOCAB)
    positions = np.array([[1, 4], [2, 0]], "int32")
    out = model({**inputs, "masked_positions": positions})
    sequence, pooled = bert_forward(weights, LAYERS, HEADS, **inputs)
    np.testing.assert_allclose(out["mlm_logits"], masked_lm_logits(weights, sequence, positions),
                               atol=1e-4)
    np.testing.assert_allclose(out["nsp_logits"], nsp_logits(weights, pooled), atol=1e-5)


def test_google_round_trip_is_exact(google_dir, tmp_path):
    convert(google_dir, tmp_path / "tfbert_dir")
    convert(tmp_path / "tfbert_dir", tmp_path / "google_again", to="google")
    a, b = read_checkpoint(google_dir), read_checkpoint(tmp_path / "google_again")
    assert a.config == b.config and a.spec == b.spec
    assert set(a.tensors) == set(b.tensors)
    for name in a.tensors:
        np.testing.assert_array_equal(a.tensors[name], b.tensors[name])
    reader = tf.train.load_checkpoint(str(tmp_path / "google_again" / "bert_model.ckpt"))
    assert "bert/encoder/layer_1/attention/self/query/kernel" in reader.get_variable_to_shape_map()


def test_vocab_mismatch_is_named(tmp_path, weights):
    directory = write_tf1_checkpoint(tmp_path / "bad", weights, vocab_lines=VOCAB + 3)
    with pytest.raises(ValueError, match=r"vocab.txt has 63 tokens .* 60 rows"):
        tfbert.load(directory)


def test_shape_mismatch_names_tensor_and_shapes(tmp_path, weights):
    weights["bert/encoder/layer_1/intermediate/dense/kernel"] = np.zeros((HIDDEN, 7), "float32")
    directory = write_tf1_checkpoint(tmp_path / "bad", weights)
    with pytest.raises(ValueError, match=r"'block_1/intermediate/kernel'.*\(32, 7\).*\(32, 48\)"):
        tfbert.load(directory)


def test_exact_gelu_cannot_be_written_as_google(tmp_path, tiny_config):
    from tfbert.model_dir import build_model, save_model_dir
    from tfbert.task import TaskSpec

    model = build_model(tiny_config, TaskSpec())
    save_model_dir(model, tiny_config, TaskSpec(), tmp_path / "m")
    with pytest.raises(ValueError, match="tanh approximation"):
        convert(tmp_path / "m", tmp_path / "g", to="google")
    assert not (tmp_path / "g").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


@pytest.mark.parametrize("head", ["classify", "qa"])
def test_fine_tuned_heads_load_and_match_reference(tmp_path, weights, make_inputs, head):
    """google-research/bert's fine-tuned heads, as run_classifier.py and run_squad.py save
    them: `output_weights` (labels, hidden) and `cls/squad/output_weights` (2, hidden), each
    applied as `matmul(x, output_weights, transpose_b=True) + output_bias`."""
    rng = np.random.default_rng(5)
    encoder = {k: v for k, v in weights.items() if k.startswith("bert/")}
    if head == "classify":
        heads = {"output_weights": rng.normal(0, 0.2, (3, HIDDEN)).astype("float32"),
                 "output_bias": rng.normal(0, 0.2, 3).astype("float32")}
    else:
        heads = {"cls/squad/output_weights": rng.normal(0, 0.2, (2, HIDDEN)).astype("float32"),
                 "cls/squad/output_bias": rng.normal(0, 0.2, 2).astype("float32")}
    directory = write_tf1_checkpoint(tmp_path / head, {**encoder, **heads})
    model = tfbert.load(directory, task=head)
    inputs = make_inputs(batch=3, seq=16, vocab=VOCAB, pair=True)
    sequence, pooled = bert_forward(weights, LAYERS, HEADS, **inputs)
    out = model(inputs)
    if head == "classify":
        np.testing.assert_allclose(out["logits"], pooled @ heads["output_weights"].T
                                   + heads["output_bias"], atol=1e-5)
    else:
        logits = sequence @ heads["cls/squad/output_weights"].T + heads["cls/squad/output_bias"]
        mask = inputs["padding_mask"].astype(bool)
        np.testing.assert_allclose(np.asarray(out["start_logits"])[mask], logits[..., 0][mask],
                                   atol=1e-5)
        np.testing.assert_allclose(np.asarray(out["end_logits"])[mask], logits[..., 1][mask],
                                   atol=1e-5)
    # And written back in the same layout.
    convert(directory, tmp_path / "again", to="google")
    reader = tf.train.load_checkpoint(str(tmp_path / "again" / "bert_model.ckpt"))
    for name, value in heads.items():
        np.testing.assert_array_equal(reader.get_tensor(name), value, err_msg=name)
