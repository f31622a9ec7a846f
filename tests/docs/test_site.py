"""The documentation site builds with `mkdocs build --strict` and without a warning: every
link between pages resolves, every page is in the navigation, and mkdocstrings reads every
docstring of the API reference (statically: nothing of tfbert is imported)."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_site_builds_strict_without_warnings(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    problems = [line for line in log.splitlines()
                if line.startswith(("WARNING", "ERROR")) or "not included in the \"nav\"" in line]
    assert not problems, log
    for page in ("index.html", "training/index.html", "benchmarks/index.html",
                 "reference/index.html", "reference/training/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    with open(tmp_path / "site" / "reference" / "index.html", encoding="utf-8") as f:
        reference = f.read()
    assert 'id="tfbert.load"' in reference and 'id="tfbert.BertConfig"' in reference
