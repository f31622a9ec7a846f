"""Hypothesis runs derandomized by default, so a CI run is repeatable (the same examples
every time); `HYPOTHESIS_PROFILE=explore` draws new examples on each run, to look for
more."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
