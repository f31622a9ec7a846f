"""What both demo tests check of a finished `tfbert demo` run: every artifact is written and
the three runtimes agree with each other and with the reports of the earlier stages."""

import json
import os

import numpy as np
import pytest

from tfbert.demo import run_demo

# The least share of test texts (%) on which the int8 TFLite file must give the Keras
# model's label, for the tests' quick runs. Measured: chnsenti 100 % (8 fine-tuning steps);
# bbc 52 % (3 steps: half the texts have their top two classes within 0.0024 of each other,
# while int8 changed no probability by more than 0.009).
AGREEMENT = {"chnsenti": 99.0, "bbc": 45.0}


def run(chosen, out):
    lines = []
    results = run_demo(chosen, out, echo=lines.append)
    return results, "\n".join(lines)


def check_results(results, out, name):
    artifacts = {row["artifact"]: row for row in results["artifacts"]}
    keras_row = artifacts["Keras model"]
    saved = artifacts["TF Serving SavedModel"]
    lite = artifacts["TFLite int8 + metadata"]
    assert saved["path"] == os.path.join(out, "savedmodels", name, "1")
    assert os.path.isfile(os.path.join(saved["path"], "saved_model.pb"))
    assert lite["path"] == os.path.join(out, "tflite", f"{name}-int8.tflite")
    # Each runtime, scored here through its predictor, agrees with the report its stage
    # wrote through other code (evaluate_model; the export's quantization report). Those
    # pad batches differently, which may flip a near-tie of these barely trained models:
    # at most one example.
    one = 100 / results["test_examples"] + 1e-9
    assert abs(keras_row["accuracy"] - results["reported"]["keras_accuracy"]) <= one
    assert abs(lite["accuracy"] - results["reported"]["tflite_int8_accuracy"]) <= one
    # The SavedModel is the Keras model with the tokenizer in the graph (within 1e-4).
    for sentence in results["sentences"]:
        assert sentence["TF Serving SavedModel"][0] == sentence["Keras model"][0]
        np.testing.assert_allclose(sentence["TF Serving SavedModel"][1],
                                   sentence["Keras model"][1], atol=1e-4)
    assert abs(saved["accuracy"] - keras_row["accuracy"]) <= one
    # Text by text, not only in the totals: the SavedModel gives the Keras model's
    # probabilities; the int8 TFLite file gives them within int8's error, and the Keras
    # model's label on the share of texts AGREEMENT says (the quick runs' barely trained
    # models have near-tied classes that int8 flips).
    assert keras_row["agreement_with_keras"] == 100
    assert keras_row["max_probability_change"] == 0
    assert saved["agreement_with_keras"] >= 100 - one
    assert saved["max_probability_change"] <= 1e-4
    # Int8 moves logits; a calibration temperature T < 1 (fitted on dev) divides them by T
    # before the softmax, so the probabilities move up to 1/T times as far.
    with open(os.path.join(out, "model", "task.json"), encoding="utf-8") as f:
        temperature = json.load(f).get("temperature", 1.0)
    bound = 0.05 / min(1.0, temperature)
    assert lite["max_probability_change"] <= bound, (lite["max_probability_change"], bound)
    assert lite["agreement_with_keras"] >= AGREEMENT[name], lite["agreement_with_keras"]
    for row in results["artifacts"]:
        assert row["bytes"] > 0 and row["latency_ms"] > 0
    assert lite["bytes"] < 0.5 * keras_row["bytes"]
    with open(os.path.join(out, "results.json"), encoding="utf-8") as f:
        assert json.load(f)["artifacts"] == results["artifacts"]
    with open(os.path.join(out, "results.md"), encoding="utf-8") as f:
        table = f.read()
    assert results["sentences"][0]["text"] in table
    assert all(row["artifact"] in table for row in results["artifacts"])
    for report in ("test_report.json", "test_report.md", "test_report_confusion.png"):
        assert os.path.isfile(os.path.join(out, "model", report))
    # What pre-training bought: the model, the same encoder from random weights, the
    # TF-IDF anchor, each scored on the same test split by its own stage.
    rows = {row["kind"]: row for row in results["comparison"]}
    assert list(rows) == ["pretrained", "random", "anchor"]
    with open(os.path.join(out, "model-random", "test_report.json"), encoding="utf-8") as f:
        assert rows["random"]["accuracy"] == pytest.approx(100 * json.load(f)["accuracy"])
    # The random row's run: the model's init, its weights not loaded (that this starts where
    # an untrained model starts: tests/training/test_random_init.py), settings the same.
    runs = {}
    for model in ("model", "model-random"):
        with open(os.path.join(out, model, "checkpoints", "run.json"), encoding="utf-8") as f:
            runs[model] = json.load(f)
    assert runs["model-random"].pop("load_weights") is False
    assert runs["model-random"] == runs["model"]
    assert rows["pretrained"]["accuracy"] == pytest.approx(
        results["reported"]["keras_accuracy"])
    with open(os.path.join(out, "anchor", "tfidf.json"), encoding="utf-8") as f:
        anchor = json.load(f)
    assert anchor["test_examples"] == results["test_examples"]
    assert rows["anchor"]["accuracy"] == pytest.approx(100 * anchor["accuracy"])
    assert rows["anchor"]["accuracy"] > 70       # TF-IDF learns these datasets in seconds
    assert "Pre-training bought" in table and "TF-IDF anchor" in table
    for ext in ("png", "html"):
        assert os.path.getsize(os.path.join(out, "attention", f"attention.{ext}")) > 1000
    stem = os.path.join(out, "tflite", f"{name}-int8")
    assert os.path.isfile(stem + ".quantization.json")
    assert os.path.isfile(stem + ".quantization.md")
