"""The distribution: a wheel builds from the tree, is named `tfbert-keras` (PyPI's `tfbert`
is another project), installs the `tfbert` package whole and the `tfbert` command."""

import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # A copy without build/ (setuptools would pack a stale build/lib) nor the venv and runs.
    source = tmp_path_factory.mktemp("source") / "tree"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "runs", "site", "*.egg-info", "savedmodels", "__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "--quiet", "-w", str(out), str(source)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = out.glob("*.whl")
    return path


def test_the_wheel_is_tfbert_keras_with_the_tfbert_command(wheel):
    assert wheel.name.startswith("tfbert_keras-0.1.0-py3-none-any")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(info).decode()
        entry = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert "Name: tfbert-keras" in metadata
    assert "Requires-Python: <3.13,>=3.10" in metadata
    for extra in ("data", "kerashub", "mediapipe", "docs", "test", "bench"):
        assert f"Provides-Extra: {extra}" in metadata, extra
    assert "tfbert = tfbert.cli.main:main" in entry
    # Every module of the source tree is in the wheel; tests and tools are not.
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tfbert").rglob("*.py")}
    assert modules <= set(names), sorted(modules - set(names))[:5]
    assert not [n for n in names if n.startswith(("tests/", "tools/"))]
