"""Holding back what native libraries write straight to the stderr file descriptor
(TensorFlow's absl start-up notes, the TFLite converter's and XNNPACK's progress lines),
which no Python logging setting reaches."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


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
