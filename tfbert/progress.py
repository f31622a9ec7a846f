"""Progress bars for loops that take a while: Keras' `Progbar`, or nothing.

On a terminal the bar redraws in place; into a log file or a pipe it writes plain lines
(no escape codes, no backspaces) at most every `LOG_INTERVAL` seconds, and at the end.
"""

from __future__ import annotations

import functools
import re
import sys

LOG_INTERVAL = 10.0
# Keras writes bold and colour codes (ESC [ 1 m ...) around parts of the bar; its done
# part is green, the rest grey, both drawn with the same character.
_ESCAPE_CODE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DONE = re.compile(r"\x1b\[32m(\u2501*)")
_TO_DO = re.compile(r"\x1b\[37m(\u2501*)")


def _on_terminal() -> bool:
    return hasattr(sys.stdout, "isatty") and sys.stdout.isatty()


def keras_verbose() -> int:
    """`verbose` for Keras' `fit`/`predict`/`evaluate`: 1 (a live bar) on a terminal or in
    a Jupyter notebook (whose output redraws in place), 2 (a line per epoch) into a file or
    a pipe."""
    return 1 if _on_terminal() or "ipykernel" in sys.modules else 2


class _Off:
    def update(self, current, values=None, finalize=None):
        pass


class _PlainText:
    """Stands in for stdout while Keras writes a bar: each write becomes one plain line,
    `12/40 ======.............. 3s ...`, without escape codes."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        text = _DONE.sub(lambda m: "=" * len(m.group(1)), text)
        text = _TO_DO.sub(lambda m: "." * len(m.group(1)), text)
        return self._stream.write(_ESCAPE_CODE.sub("", text).lstrip("\n").rstrip() + "\n")

    def __getattr__(self, name):
        return getattr(self._stream, name)


@functools.cache  # one class, made when the first bar is (keras loads on first use)
def _plain_progbar(keras):
    class PlainProgbar(keras.utils.Progbar):
        """Keras' bar as plain lines, one per update shown. (Keras counts any POSIX
        system as a live display, so a log would fill with backspaces.)"""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._dynamic_display = False

        def update(self, current, values=None, finalize=None):
            stdout = sys.stdout
            sys.stdout = _PlainText(stdout)
            try:
                super().update(current, values, finalize)
            finally:
                sys.stdout = stdout

    return PlainProgbar


def progress_bar(total: int, enabled: bool = True, unit_name: str = "step", **kwargs):
    """A bar counting up to `total` (`update(current)`), or a silent stand-in."""
    if not enabled or total <= 0:
        return _Off()
    import keras

    if _on_terminal():
        return keras.utils.Progbar(total, interval=0.05, unit_name=unit_name, **kwargs)
    return _plain_progbar(keras)(total, interval=LOG_INTERVAL, unit_name=unit_name, **kwargs)
