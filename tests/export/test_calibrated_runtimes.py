"""A calibrated model's scores and a multi-label model's thresholds (task.json `temperature`,
`thresholds`) mean the same in every runtime: the Keras model directory, the SavedModel
(TF Serving's `label_mask` included) and the TFLite files (MediaPipe's included). The texts
are those the in-model TFLite tokenizer reads exactly as tfbert does (test_tflite.PLAIN)."""

import json
import os

import keras
import numpy as np
import pytest

from tests.export.conftest import VOCAB
from tests.export.test_tflite import PLAIN as TEXTS
from tfbert.config import BertConfig
from tfbert.export.saved_model import export_saved_model
from tfbert.export.tflite import export_tflite
from tfbert.model_dir import build_model, save_model_dir
from tfbert.predict import load_predictor
from tfbert.task import TaskSpec, class_probabilities

LABELS = ("sport", "business", "tech")
TEMPERATURE = 2.5


def _model_dir(root, spec):
    config = BertConfig(vocab_size=30522, hidden_size=32, num_layers=2, num_heads=2,
                        intermediate_size=64, max_position_embeddings=64,
                        initializer_range=0.5)
    keras.utils.set_random_seed(0)
    model = build_model(config, spec)
    path = str(root / spec.task / ("multi" if spec.multi_label else "single"))
    save_model_dir(model, config, spec, path, VOCAB)
    return path


def _set_task(path, **fields):
    task_path = os.path.join(path, "task.json")
    with open(task_path) as f:
        data = json.load(f)
    with open(task_path, "w") as f:
        json.dump({**data, **fields}, f)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """`{name: (model directory, [artifacts])}`: a single-label classifier with a
    temperature, and a multi-label one whose thresholds sit between its probabilities."""
    root = tmp_path_factory.mktemp("calibrated")
    single = _model_dir(root, TaskSpec(task="classify", labels=LABELS, max_length=32))
    multi = _model_dir(root, TaskSpec(task="classify", labels=LABELS, max_length=32,
                                      multi_label=True))
    # Thresholds from the uncalibrated probabilities of the first texts: per label, one
    # between the two highest, so the decisions differ from 0.5's.
    raw = [load_predictor(multi).predict([{"text": t} for t in TEXTS])]
    probabilities = np.array([[r["probabilities"][label] for label in LABELS] for r in raw[0]])
    top_two = np.sort(probabilities, axis=0)[-2:]
    thresholds = [round(float(t), 6) for t in top_two.mean(0)]
    _set_task(single, temperature=TEMPERATURE)
    _set_task(multi, thresholds=thresholds)
    artifacts = {}
    for name, path in (("single", single), ("multi", multi)):
        out = [export_saved_model(path, name, base=str(root / "savedmodels"))]
        out.append(export_tflite(path, str(root / f"{name}.tflite"))["file"])
        if name == "single":   # MediaPipe's file: ids in, probabilities out
            out.append(export_tflite(path, str(root / f"{name}-metadata.tflite"),
                                     tokenizer="metadata")["file"])
        artifacts[name] = (path, out)
    return artifacts, thresholds, probabilities


def test_the_temperature_is_applied_in_every_runtime(calibrated):
    artifacts, _, _ = calibrated
    path, exported = artifacts["single"]
    records = [{"text": t} for t in TEXTS]
    keras_answers = load_predictor(path).predict(records)
    # The Keras model's logits, tempered by hand: what every runtime must give.
    from tfbert.predict.keras_model import KerasPredictor

    keras_predictor = KerasPredictor(path)
    inputs = keras_predictor.tokenizer([r["text"] for r in records], max_length=32)
    logits = keras_predictor._outputs(inputs)["logits"]
    expected = class_probabilities(logits, temperature=TEMPERATURE)
    untempered = class_probabilities(logits)
    assert np.abs(expected - untempered).max() > 0.05   # the temperature shows
    for artifact in [path] + exported:
        answers = load_predictor(artifact).predict(records)
        got = np.array([[a["probabilities"][label] for label in LABELS] for a in answers])
        tolerance = 1e-5
        np.testing.assert_allclose(got, expected, atol=tolerance, err_msg=artifact)
        assert [a["label"] for a in answers] == [a["label"] for a in keras_answers]


def test_multi_label_thresholds_are_applied_in_every_runtime(calibrated):
    import tensorflow as tf

    artifacts, thresholds, probabilities = calibrated
    path, exported = artifacts["multi"]
    expected = [[label for label, p, t in zip(LABELS, row, thresholds) if p > t]
                for row in probabilities]
    at_half = [[label for label, p in zip(LABELS, row) if p > 0.5] for row in probabilities]
    assert expected != at_half   # the thresholds decide differently from 0.5
    records = [{"text": t} for t in TEXTS]
    for artifact in [path] + exported:
        answers = load_predictor(artifact).predict(records)
        assert [a["labels"] for a in answers] == expected, artifact
    # TF Serving clients read the decisions from the signature's `label_mask`.
    serve = tf.saved_model.load(exported[0]).signatures["serving_default"]
    mask = serve(text=tf.constant(TEXTS))["label_mask"].numpy()
    assert [[label for label, m in zip(LABELS, row) if m] for row in mask] == expected
    # The quantization report scores single-label classifiers; a multi-label model's
    # --eval-data is refused before anything is written.
    refused = os.path.join(os.path.dirname(exported[1]), "refused.tflite")
    with pytest.raises(ValueError, match="^--eval-data: the quantization report scores "
                                         "single-label classifiers"):
        export_tflite(path, refused, evaluation=[{"text": TEXTS[0], "label": "sport"}])
    assert not os.path.exists(refused)
