"""The casing a checkpoint declares: whether its tokenizer lowercases (and strips accents)."""

from __future__ import annotations

import os

from tfbert.textfile import read_json


def _object(directory, name):
    """The JSON object in `directory/name`, or None when the file is missing or is not one
    (a checkpoint's optional tokenizer files do not decide whether it loads)."""
    try:
        return read_json(os.path.join(directory, name))
    except (OSError, ValueError):
        return None


def declared_lowercase(directory) -> bool:
    """Whether the checkpoint in `directory` is uncased, as its files declare it: tfbert's
    `task.json`, Hugging Face's `tokenizer_config.json` or `tokenizer.json`, keras-hub's
    `tokenizer.json`; else Google's release naming (`cased_L-12_...` vs `uncased_...`)."""
    if (task := _object(directory, "task.json")) is not None:
        return bool(task.get("lowercase", True))
    if (tokenizer_config := _object(directory, "tokenizer_config.json")) is not None:
        return bool(tokenizer_config.get("do_lower_case", True))
    if (tokenizer := _object(directory, "tokenizer.json")) is not None:
        # keras-hub keeps it under "config", Hugging Face under "normalizer".
        section = tokenizer.get("config") or tokenizer.get("normalizer") or {}
        return bool(section.get("lowercase", True))
    base = os.path.basename(os.path.abspath(directory)).lower()
    return not (base.startswith("cased") or "_cased" in base or "-cased" in base)
