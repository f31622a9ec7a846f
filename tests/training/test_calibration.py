"""Calibration: the temperature fitted on dev recovers a known one, thresholds maximise each
label's F1, ECE is Guo et al.'s, a temperature that does not help is not kept, and
`tfbert calibrate` rewrites a model's task.json the same way twice."""

import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from tfbert.cli.main import cli
from tfbert.config import BertConfig
from tfbert.evaluation import expected_calibration_error, reliability_bins
from tfbert.model_dir import build_model, save_model_dir
from tfbert.task import TaskSpec, class_probabilities
from tfbert.training import calibration


def _sampled(temperature, multi_label=False, n=20000, k=3, seed=0):
    """Logits and targets drawn from the probabilities of logits / `temperature`: the
    calibrating temperature is `temperature`."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (n, k))
    p = class_probabilities(logits, multi_label, temperature)
    if multi_label:
        return logits, (rng.random((n, k)) < p).astype(int)
    return logits, (rng.random((n, 1)) > p.cumsum(1)).sum(1)


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_fit_temperature_recovers_the_true_one(multi_label, temperature):
    logits, targets = _sampled(temperature, multi_label)
    assert calibration.fit_temperature(logits, targets, multi_label) == \
        pytest.approx(temperature, rel=0.05)


def test_ece_and_bins_by_hand():
    # Confidences 0.9 (right) and 0.8 (wrong) in two bins: (0.1 + 0.8) / 2.
    assert expected_calibration_error([[0.9, 0.1], [0.8, 0.2]], [0, 1]) == pytest.approx(0.45)
    # Multi-label: each decision counts; 0.3 is a "no" held with 0.7, wrong here.
    p, y = np.array([[0.9, 0.2], [0.3, 0.6]]), np.array([[1, 0], [1, 1]])
    assert expected_calibration_error(p, y, True) == pytest.approx((0.1 + 0.2 + 0.7 + 0.4) / 4)
    bins = reliability_bins(p, y, True)
    assert sum(b["count"] for b in bins.values()) == 4 and "0.667-0.733" in bins


def test_thresholds_maximise_each_labels_f1():
    p = np.array([[0.9, 0.1, 0.2], [0.6, 0.4, 0.3], [0.3, 0.8, 0.1], [0.2, 0.3, 0.4]])
    y = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]])
    # label 0: between 0.6 and 0.3; label 1: between 0.8 and 0.4; label 2: never true.
    assert calibration.choose_thresholds(p, y) == pytest.approx((0.45, 0.6, 0.5))


def test_a_temperature_is_kept_only_when_it_lowers_dev_ece(monkeypatch):
    logits, targets = _sampled(1.0)
    result = calibration.calibrate(logits * 4, targets)    # overconfident by 4x
    assert result["kept"] and result["temperature"] == pytest.approx(4, rel=0.05)
    assert result["ece_after"] < result["ece_before"] and \
        result["nll_after"] < result["nll_before"]
    monkeypatch.setattr(calibration, "fit_temperature", lambda *a: 0.25)  # much worse
    result = calibration.calibrate(logits, targets)
    assert not result["kept"] and result["temperature"] == 1.0
    assert result["fitted_temperature"] == 0.25 and result["ece_fitted"] > result["ece_before"]


@pytest.mark.parametrize("fields, message", [
    ({"temperature": 0.0}, r"'temperature' must be a number from 0.01 to 100"),
    ({"temperature": True}, r"'temperature' must be a number"),
    ({"task": "ner", "labels": ("O",), "temperature": 2.0}, r"'temperature' is for classify"),
    ({"thresholds": (0.5, 0.5)}, r"'thresholds' are for multi-label models"),
    ({"multi_label": True, "thresholds": (0.5,)}, r"'thresholds' must be 2 numbers"),
    ({"multi_label": True, "thresholds": (0.5, 1.0)}, r"'thresholds' must be 2 numbers"),
])
def test_task_json_calibration_fields_are_checked(fields, message):
    with pytest.raises(ValueError, match=message):
        TaskSpec(**{"task": "classify", "labels": ("a", "b"), **fields})


def test_task_json_round_trip_omits_the_defaults():
    spec = TaskSpec(task="classify", labels=("a", "b"), multi_label=True, temperature=1.5,
                    thresholds=(0.3, 0.7))
    assert TaskSpec.from_dict(spec.to_dict()) == spec
    plain = TaskSpec(task="classify", labels=("a", "b")).to_dict()
    assert "temperature" not in plain and "thresholds" not in plain


def test_cli_calibrate_rewrites_task_json_and_is_idempotent(tmp_path):
    vocab = tmp_path / "vocab.txt"
    words = ["good", "bad", "fine", "awful", "great"]
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words) + "\n")
    config = BertConfig(vocab_size=10, hidden_size=16, num_layers=1, num_heads=2,
                        intermediate_size=32, max_position_embeddings=32,
                        initializer_range=2.0)   # large logits: overconfident
    spec = TaskSpec(task="classify", labels=("neg", "pos"), max_length=16)
    keras.utils.set_random_seed(0)
    model_dir = str(tmp_path / "model")
    save_model_dir(build_model(config, spec), config, spec, model_dir, str(vocab))
    dev = tmp_path / "dev.jsonl"
    rng = np.random.default_rng(0)
    dev.write_text("".join(json.dumps({"text": " ".join(rng.choice(words, 3)),
                                       "label": str(rng.choice(["neg", "pos"]))}) + "\n"
                           for _ in range(200)))
    runner = CliRunner()
    run = runner.invoke(cli, ["calibrate", model_dir, str(dev)])
    assert run.exit_code == 0, run.output
    first = (tmp_path / "model" / "task.json").read_text()
    assert json.loads(first)["temperature"] > 1 and "calibrated: temperature" in run.output
    assert runner.invoke(cli, ["calibrate", model_dir, str(dev)]).exit_code == 0
    assert (tmp_path / "model" / "task.json").read_text() == first
    ner = tmp_path / "ner"
    ner_spec = TaskSpec(task="ner", labels=("O", "B-X", "I-X"), max_length=16)
    save_model_dir(build_model(config, ner_spec), config, ner_spec, str(ner), str(vocab))
    run = runner.invoke(cli, ["calibrate", str(ner), str(dev)])
    assert run.exit_code == 2 and "calibration is for classify and pair models" in run.output
