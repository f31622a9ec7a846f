"""The warm `tfbert` of the docs tests behaves as the real command does where a page can
tell: exit codes, stdout and stderr, the working directory; and what it cannot run as a
fresh process would goes to the real binary (here a path that does not exist, so the
routing shows)."""

import os
import subprocess

import pytest

from tests.docs.test_snippets import VENV_BIN, environment
from tests.docs.zygote import Zygote


@pytest.fixture(scope="module")
def warm():
    env = environment()
    zygote = Zygote(os.path.join(VENV_BIN, "python"), "/nonexistent/real-tfbert", env)
    yield dict(env, PATH=zygote.bin + os.pathsep + env["PATH"])
    zygote.close()


def run(command, env, cwd):
    return subprocess.run(["bash", "-c", command], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_exit_codes_and_output_are_the_commands(warm, tmp_path):
    done = run("tfbert info /nonexistent/model", warm, tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: /nonexistent/model: no such file")
    done = run("tfbert presets", warm, tmp_path)
    assert done.returncode == 0 and "all-MiniLM-L6-v2" in done.stdout
    done = run("tfbert predict", warm, tmp_path)   # a usage error: click's exit code
    assert done.returncode == 2 and "Missing argument 'MODEL'" in done.stderr


def test_the_command_works_in_the_callers_directory(warm, tmp_path):
    (tmp_path / "sub").mkdir()
    done = run("cd sub && tfbert datasets export chnsenti data && ls data", warm, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "train.jsonl" in done.stdout and (tmp_path / "sub" / "data" / "train.jsonl").exists()


def test_import_time_settings_and_debug_go_to_the_real_binary(warm, tmp_path):
    for command in ("KERAS_BACKEND=jax tfbert presets", "tfbert --debug presets"):
        done = run(command, warm, tmp_path)
        assert done.returncode != 0 and "real-tfbert" in done.stderr, command
