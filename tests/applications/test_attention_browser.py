"""The attention page in a real browser: Debian's headless Chromium runs its script without
an error, builds one panel per layer, and a screenshot of it is not blank. (`.ci/run`
installs Chromium and sets TFBERT_REQUIRE_BROWSER, so CI fails rather than skips.)"""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from tfbert.evaluation.attention_view import write_attention_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=5000"]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("TFBERT_REQUIRE_BROWSER"),
    reason="needs Debian's chromium package (apt-get install chromium)")


def chromium(tmp_path, *args) -> str:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    run = subprocess.run([CHROMIUM or "chromium", *FLAGS, f"--user-data-dir={profile}", *args],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


@pytest.fixture
def page(tmp_path):
    tokens = ["[CLS]", "我", "爱", "北", "京", "天", "安", "门", "[SEP]"]
    rng = np.random.default_rng(0)
    weights = rng.random((3, 4, len(tokens), len(tokens)))
    weights /= weights.sum(-1, keepdims=True)                # (layers, heads, n, n)
    return write_attention_html(tokens, weights, tmp_path / "attention.html",
                                title="我爱北京天安门")


def test_the_page_runs_in_chromium_with_one_panel_per_layer(page, tmp_path):
    dom = chromium(tmp_path, "--dump-dom", f"file://{page}")
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert "data-error" not in body, body                    # no script error
    assert 'data-panels="3"' in body, body                    # the script ran to its end
    assert len(re.findall(r'<section class="layer"', dom)) == 3
    assert len(re.findall(r"<line ", dom)) > 3 * 4 * 9          # every head's lines drawn


def test_a_screenshot_of_the_page_is_not_blank(page, tmp_path):
    shot = tmp_path / "shot.png"
    chromium(tmp_path, "--window-size=1200,800", f"--screenshot={shot}", f"file://{page}")
    from matplotlib.image import imread

    pixels = imread(str(shot))[..., :3]                       # (height, width, rgb) in [0, 1]
    assert pixels.shape[:2] == (800, 1200)
    drawn = (pixels < 0.9).any(-1)                             # not the white background
    assert drawn.mean() > 0.01, drawn.mean()
    # Coloured lines (the heads) in the panels, below the heading and the head swatches.
    colourful = (pixels[100:].max(-1) - pixels[100:].min(-1)) > 0.05
    assert colourful.sum() > 2000, colourful.sum()
