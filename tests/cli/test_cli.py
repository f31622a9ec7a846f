import json

import numpy as np
import pytest
from click.testing import CliRunner

from tfbert.cli.main import cli
from tfbert.model_dir import build_model, save_model_dir
from tfbert.task import TaskSpec


@pytest.fixture
def model_dir(tmp_path, tiny_config):
    spec = TaskSpec(task="classify", labels=("neg", "pos"))
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(f"t{i}\n" for i in range(tiny_config.vocab_size)))
    save_model_dir(build_model(tiny_config, spec), tiny_config, spec, tmp_path / "m",
                   vocab_file=vocab)
    return tmp_path / "m"


def test_help_lists_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("convert", "info", "demo"):
        assert name in result.output


def test_info(model_dir):
    result = CliRunner().invoke(cli, ["info", str(model_dir)])
    assert result.exit_code == 0, result.output
    assert "task:        classify (2 labels: neg, pos)" in result.output
    assert "2 layers, hidden 32, 4 heads" in result.output
    assert "vocabulary:  97" in result.output
    data = json.loads(CliRunner().invoke(cli, ["info", "--json", str(model_dir)]).output)
    total = sum(v for k, v in data["parameters"].items() if k != "total")
    assert data["parameters"]["total"] == total
    # embeddings: (97 + 2 + 40) x 32 + LayerNorm 64; classifier 32 x 2 + 2
    assert data["parameters"]["embeddings"] == 139 * 32 + 64
    assert data["parameters"]["classifier"] == 66


def test_convert_round_trip(model_dir, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["convert", str(model_dir), str(tmp_path / "hf"), "--to", "hf"])
    assert result.exit_code == 0, result.output
    assert "(tfbert, task classify) ->" in result.output
    result = runner.invoke(cli, ["convert", str(tmp_path / "hf"), str(tmp_path / "back")])
    assert result.exit_code == 0, result.output
    from safetensors.numpy import load_file

    a = load_file(model_dir / "model.safetensors")
    b = load_file(tmp_path / "back" / "model.safetensors")
    assert set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def test_user_errors_are_one_line_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(cli, ["info", str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "not a BERT checkpoint" in result.output
    assert "Traceback" not in result.output


def test_convert_refuses_non_empty_destination(model_dir, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["convert", str(model_dir), str(tmp_path / "taken"),
                                      "--to", "hf"])
    assert result.exit_code == 2 and "not empty" in result.output
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    result = CliRunner().invoke(cli, ["convert", str(model_dir), str(tmp_path / "taken")])
    assert result.exit_code == 2 and "not a tfbert model directory" in result.output
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    # An existing model directory is replaced as a whole: the same files, the same weights,
    # no staging or old copy left beside it.
    before = {p.name: p.read_bytes() for p in model_dir.iterdir() if p.is_file()}
    siblings = sorted(p.name for p in model_dir.parent.iterdir())
    result = CliRunner().invoke(cli, ["convert", str(model_dir), str(model_dir)])
    assert result.exit_code == 0, result.output
    after = {p.name: p.read_bytes() for p in model_dir.iterdir() if p.is_file()}
    assert after.keys() == before.keys()
    assert after["model.safetensors"] == before["model.safetensors"]
    assert sorted(p.name for p in model_dir.parent.iterdir()) == siblings


def test_demo_rejects_bad_settings_before_doing_anything(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out), "--epochs", "0"])
    assert result.exit_code == 2 and "--epochs" in result.output
    assert not out.exists()
