"""Progress bars for loops that take a while: Keras' `Progbar`, or nothing.

On a terminal the bar redraws in place; into a log file it writes a line at most every
`LOG_INTERVAL` seconds (and at the end), not one per update.
"""

from __future__ import annotations

import sys

LOG_INTERVAL = 10.0


class _Off:
    def update(self, current, values=None, finalize=None):
        pass


def progress_bar(total: int, enabled: bool = True, unit_name: str = "step", **kwargs):
    """A bar counting up to `total` (`update(current)`), or a silent stand-in."""
    if not enabled or total <= 0:
        return _Off()
    import keras

    interval = 0.05 if sys.stdout.isatty() else LOG_INTERVAL
    return keras.utils.Progbar(total, interval=interval, unit_name=unit_name, **kwargs)
