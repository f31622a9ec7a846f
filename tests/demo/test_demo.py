"""`tfbert demo` (Chinese) end to end on the real built-in data, with very few training steps:
every artifact is written, the three runtimes agree, and a re-run reuses what is finished.
The English demo is in its own file, so that the two can run in parallel test workers."""

import json
import os

import pytest

from tests.demo.demo_checks import check_results, run
from tfbert.demo import recipe

# 8 fine-tuning steps at 2e-3 leave every test text's two probabilities ~0.09 apart (4 at
# the recipe's 5e-4: 0.001 apart, near ties that int8 flips).
QUICK = dict(pretrain_steps=3, pretrain_batch=8, finetune_steps=8, learning_rate=2e-3,
             batch_size=16, calibration_size=32)


@pytest.mark.slow
def test_chinese_demo_end_to_end_then_reuse_then_rerun_a_changed_stage(tmp_path):
    out = str(tmp_path / "demo")
    chosen = recipe(**QUICK)
    results, printed = run(chosen, out)
    check_results(results, out, "chnsenti")
    assert results["sentences"][0]["text"] == "我爱北京天安门"
    for path in ("data/zh-corpus/corpus.txt", "data/chnsenti/test.jsonl", "vocab.txt",
                 "pretrain-data/manifest.json", "pretrain-dev/manifest.json",
                 "pretrained/model.safetensors", "pretrained/pretraining_curve.png",
                 "model/model.safetensors", "demo.json"):
        assert os.path.isfile(os.path.join(out, path)), path
    assert "reusing" not in printed
    # Pre-training was scored on documents it never saw, and the row says what it saw.
    with open(os.path.join(out, "pretrain-corpus", "train.txt"), encoding="utf-8") as f:
        train = set(f.read().split("\n\n"))
    with open(os.path.join(out, "pretrain-corpus", "dev.txt"), encoding="utf-8") as f:
        dev = [d for d in f.read().split("\n\n") if d.strip()]
    assert dev and not train & set(dev)
    with open(os.path.join(out, "pretrained", "history.json"), encoding="utf-8") as f:
        assert any("dev_mlm_accuracy" in row for row in json.load(f))
    assert "pre-trained here (3 steps, " in results["comparison"][0]["model"]

    weights = os.path.join(out, "model", "model.safetensors")
    stamp = os.stat(weights).st_mtime_ns
    again, printed = run(chosen, out)
    assert printed.count("done before, reusing") == 11  # every stage but the comparison
    assert os.stat(weights).st_mtime_ns == stamp
    assert [r["accuracy"] for r in again["artifacts"]] == \
        [r["accuracy"] for r in results["artifacts"]]

    # Another setting of the last export: every stage before it is reused, it runs again
    # (the chain of keys itself is tested in test_stages.py).
    lite = os.path.join(out, "tflite", "chnsenti-int8.tflite")
    lite_stamp = os.stat(lite).st_mtime_ns
    _, printed = run(recipe(**{**QUICK, "calibration_size": 33}), out)
    reused = [line.split("]")[0] for line in printed.splitlines() if "reusing" in line]
    assert reused == [f"[{n}/12" for n in range(1, 11)]
    assert os.stat(weights).st_mtime_ns == stamp
    assert os.stat(lite).st_mtime_ns != lite_stamp
    assert os.listdir(os.path.join(out, "savedmodels", "chnsenti")) == ["1"]


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
    assert f"attention of {chosen.sentences[0]}: {out}/attention/attention.html" in run.output
    assert "pre-training curve" not in run.output     # MiniLM-L6 was not pre-trained here
    assert f"-v {os.path.abspath(out)}/savedmodels/bbc:/models/bbc -e MODEL_NAME=bbc" \
        in run.output
