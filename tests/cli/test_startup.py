"""What the user sees first: `--help` without TensorFlow, TensorFlow's start-up notes held
back, progress bars without escape codes in a log. Each runs a fresh interpreter, since the
test process has TensorFlow loaded already."""

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from tfbert.cli import main

HEAVY = ("tensorflow", "keras", "tensorflow_text")

# Invokes the click group with each argument list in turn, as `tfbert ARGS` would, and
# prints per invocation its exit code and the heavy modules loaded so far.
INVOKE = """
import json, sys
from tfbert.cli.main import COMMANDS, cli
rows = []
for args in [["--help"], ["--version"], *([name, "--help"] for name in COMMANDS),
             ["datasets", "list", "--help"], ["datasets", "export", "--help"]]:
    sys.argv = ["tfbert", *args]
    try:
        cli(prog_name="tfbert")
    except SystemExit as exit:
        code = exit.code
    rows.append([args, code, [m for m in %r if m in sys.modules]])
print("\\n" + json.dumps(rows))
""" % (HEAVY,)


def _python(code, env=None, **kwargs):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300, **kwargs)


def test_help_and_version_load_no_tensorflow():
    done = _python(INVOKE)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout.splitlines()[-1])
    assert {tuple(args) for args, _, _ in rows} >= {(name, "--help") for name in main.COMMANDS}
    assert [(args, code) for args, code, _ in rows if code != 0] == []
    loaded = [(args, heavy) for args, _, heavy in rows if heavy]
    assert loaded == [], f"loaded by the first of these: {loaded[:1]}"
    # Every command module imports (none stands in as "not available").
    assert "not available" not in done.stdout


def test_a_missing_command_module_breaks_only_that_command(monkeypatch):
    monkeypatch.setitem(main.COMMANDS, "ghost", "tfbert.cli.no_such_module")
    runner = CliRunner()
    result = runner.invoke(main.cli, ["--help"])
    assert result.exit_code == 0 and "ghost" in result.output and "info" in result.output
    result = runner.invoke(main.cli, ["ghost"])
    assert isinstance(result.exception, ModuleNotFoundError)
    assert runner.invoke(main.cli, ["datasets", "list"]).exit_code == 0


def _environment(**changes):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(changes)
    return env


def test_import_tensorflow_holds_the_start_up_notes_back():
    code = ("import os, time\n"
            "from tfbert.quiet import import_tensorflow\n"
            "tf = import_tensorflow()\n"
            "start = time.perf_counter(); again = import_tensorflow()\n"
            "print(again is tf, time.perf_counter() - start < 1e-3,\n"
            "      os.environ['TF_CPP_MIN_LOG_LEVEL'], tf.get_logger().level)\n"
            "tf.constant(1.0) + 1  # the first op: no CUDA notes either\n")
    done = _python(code, env=_environment())
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True", "3", "40"]   # 40: logging.ERROR
    assert done.stderr == ""
    # A level the user chose is theirs, and the Python logger follows it: quiet at 2,
    # left alone (NOTSET) at 0, where the native notes come through as well.
    done = _python(code, env=_environment(TF_CPP_MIN_LOG_LEVEL="2"))
    assert done.stdout.split()[2:] == ["2", "40"], done.stderr[-2000:]
    done = _python(code, env=_environment(TF_CPP_MIN_LOG_LEVEL="0"))
    assert done.stdout.split()[2:] == ["0", "0"] and done.stderr, done.stderr[-2000:]


def test_the_cli_is_quiet_on_stderr(tmp_path):
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n")
    (tmp_path / "corpus.txt").write_text("hello hello\nhello\n\nhello\n")
    done = subprocess.run(
        [sys.executable, "-m", "tfbert.cli.main", "pretrain-data", "corpus.txt", "out",
         "--vocab", "vocab.txt", "--seq-len", "8"], capture_output=True, text=True,
        cwd=tmp_path, env=_environment(), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""


PROGRESS = """
from tfbert.progress import keras_verbose, progress_bar
bar = progress_bar(3)
for step in (1, 2, 3):
    bar.update(step, values=[("loss", 0.5)])
print("verbose", keras_verbose())
"""


def test_progress_into_a_pipe_is_plain_text():
    done = _python(PROGRESS)   # stdout is a pipe
    assert done.returncode == 0, done.stderr[-2000:]
    for code in ("\x1b", "\b", "\r"):
        assert code not in done.stdout, repr(done.stdout)
    first, last, verbose = done.stdout.splitlines()   # the first update and the last
    assert first.startswith("1/3 ======....") and last.startswith("3/3 ====================")
    assert last.endswith("loss: 0.5000") and verbose == "verbose 2"


def test_a_reader_that_stops_early_is_not_an_error():
    """`tfbert presets | head -1`: the pipe closes before the output is written."""
    process = subprocess.Popen([sys.executable, "-m", "tfbert.cli.main", "presets"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    assert process.wait(timeout=300) == 1
    assert process.stderr.read() == b""
