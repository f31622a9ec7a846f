"""`tfbert export` and `tfbert predict` on its outputs, in-process with CliRunner: the
three runtimes give the same answers; bad requests end in one line and exit code 2."""

import json
import os

from click.testing import CliRunner

from tfbert.cli.main import cli

TEXTS = ["Shares in the company rose 5 percent after the results.", "Paris is nice!"]


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _predictions(model):
    args = ["predict", model]
    for text in TEXTS:
        args += ["--text", text]
    result = _run(*args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == len(TEXTS), result.stdout
    return rows


def test_export_then_predict_with_every_runtime(model_dirs, tmp_path):
    model = model_dirs["classify"]
    base = tmp_path / "savedmodels"
    result = _run("export", model, "--format", "saved_model", "--name", "news", "--base", base)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(os.path.join("news", "1"))
    out = tmp_path / "news.tflite"
    result = _run("export", model, "--format", "tflite", "--tokenizer", "metadata", "--out", out)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["bytes"] == os.path.getsize(out)
    keras_path = _predictions(model)
    for exported in (base / "news", out):
        got = _predictions(exported)
        assert [r["label"] for r in got] == [r["label"] for r in keras_path]
        for a, b in zip(got, keras_path):
            assert all(abs(a["probabilities"][k] - v) < 1e-5
                       for k, v in b["probabilities"].items())


def test_bad_requests_are_one_line(model_dirs, tmp_path):
    cases = [
        (["export", model_dirs["ner"], "--format", "tflite", "--tokenizer", "metadata",
          "--out", tmp_path / "x.tflite"], "single-text classifiers"),
        (["export", model_dirs["classify"], "--format", "saved_model"], "needs --name"),
        (["export", model_dirs["classify"], "--format", "tflite"], "needs --out"),
        (["export", tmp_path, "--format", "saved_model", "--name", "x"],
         "not a BERT checkpoint"),
    ]
    for args, message in cases:
        result = _run(*args)
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert len([line for line in result.output.splitlines() if line.strip()]) == 1, \
            result.output
    assert not os.path.exists(tmp_path / "x.tflite")
