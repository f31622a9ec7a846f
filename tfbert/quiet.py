"""Holding back what native libraries write straight to the stderr file descriptor
(TensorFlow's absl start-up notes, tf-text's "CharacterSet built", the TFLite converter's and
XNNPACK's progress lines), which no Python logging setting reaches.

`import_tensorflow()` is how tfbert loads TensorFlow for users (the CLI before a command
runs, the Python API's entry points): once, with those notes held back.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

# What the user set before tfbert touched it (None: unset). Read when this module is first
# imported, which is before `import_tensorflow` sets it.
_USER_LOG_LEVEL = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
# Every native line goes through when the user asked for all of TensorFlow's logs ("0"),
# or for `--debug` (`import_tensorflow(debug=True)`).
_show_native = _USER_LOG_LEVEL == "0"
_imported = False


@contextlib.contextmanager
def held_stderr():
    """Within the block, file descriptor 2 goes to a temporary file; it is written out only
    if the block raises, so a failure still shows everything the libraries said."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@contextlib.contextmanager
def native_notes_held():
    """`held_stderr()`, unless the user asked for every log line (`TF_CPP_MIN_LOG_LEVEL=0`
    or `--debug`): for the first use of a native op that logs at INFO level whatever
    Python's logging says, e.g. tf-text's `FastBertTokenizer` writing "CharacterSet built"
    when it is constructed (if TensorFlow was imported before `TF_CPP_MIN_LOG_LEVEL` was
    set). File descriptor 2 is the process's: another thread's stderr lines in the block
    are held too."""
    if _show_native:
        yield
        return
    with held_stderr():
        yield


def import_tensorflow(debug: bool = False):
    """Imports TensorFlow and tensorflow-text once and returns the `tensorflow` module.

    Their start-up notes (oneDNN, no CUDA driver, CPU instructions) go through absl before
    any log level applies; they are held back and shown only if the import fails.
    `TF_CPP_MIN_LOG_LEVEL` becomes "3" unless the user set it; TensorFlow's Python logger
    follows it: ERROR at 2 or 3 (AutoGraph and retracing warnings are for library
    developers), left alone at 0 or 1. `debug` (the CLI's `--debug`) lets everything
    through. A second call costs a dictionary look-up.
    """
    global _imported, _show_native
    if _imported:
        return sys.modules["tensorflow"]
    _show_native = _show_native or debug
    if not debug and _USER_LOG_LEVEL is None:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with contextlib.nullcontext() if debug else held_stderr():
        import tensorflow
        import tensorflow_text  # noqa: F401  (registers its ops; logs on load as well)
    if not debug and os.environ.get("TF_CPP_MIN_LOG_LEVEL") in ("2", "3"):
        tensorflow.get_logger().setLevel("ERROR")
    _imported = True
    return tensorflow
