"""`BertConfig`: the one description of a BERT's shape, read and written in the
key names of google-research/bert (`bert_config.json`) and Hugging Face (`config.json`)."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

# Activation names tfbert understands, and what each computes.
#   "gelu"      exact form, 0.5 x (1 + erf(x / sqrt 2)): Hugging Face's `gelu`.
#   "gelu_tanh" tanh approximation: google-research/bert's `gelu`, keras-hub's
#               BertBackbone, Hugging Face's `gelu_new` / `gelu_pytorch_tanh`.
ACTIVATIONS = ("gelu", "gelu_tanh", "relu", "tanh")

# Hugging Face `hidden_act` value -> tfbert activation.
_FROM_HF_ACT = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
    "relu": "relu",
    "tanh": "tanh",
}
_TO_HF_ACT = {"gelu": "gelu", "gelu_tanh": "gelu_new", "relu": "relu", "tanh": "tanh"}
# google-research/bert's modeling.get_activation knows gelu (tanh form), relu, tanh.
_FROM_GOOGLE_ACT = {"gelu": "gelu_tanh", "relu": "relu", "tanh": "tanh"}
_TO_GOOGLE_ACT = {"gelu_tanh": "gelu", "relu": "relu", "tanh": "tanh"}


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """The architecture of a BERT encoder.

    Example:
    >>> config = BertConfig.from_name("tiny", vocab_size=1000)
    >>> (config.num_layers, config.hidden_size, config.num_heads, config.intermediate_size)
    (2, 128, 2, 512)
    >>> BertConfig.from_dict(config.to_hf_dict()) == config
    True
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-12
    initializer_range: float = 0.02

    def __post_init__(self):
        positive = ("vocab_size", "hidden_size", "num_layers", "num_heads",
                    "intermediate_size", "max_position_embeddings", "type_vocab_size")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"BertConfig.{name} must be a positive integer. Received: {name}={value!r}")
        for name in ("hidden_dropout", "attention_dropout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(
                    f"BertConfig.{name} must be a number in [0, 1). Received: {name}={value!r}")
        for name in ("layer_norm_eps", "initializer_range"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(
                    f"BertConfig.{name} must be a positive number. Received: {name}={value!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(
                "BertConfig.hidden_size must be divisible by num_heads. Received: "
                f"hidden_size={self.hidden_size}, num_heads={self.num_heads}")
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(
                f"BertConfig.hidden_act must be one of {ACTIVATIONS}. "
                f"Received: hidden_act={self.hidden_act!r}")

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_heads

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> "BertConfig":
        """A preset size (`tiny`, `mini`, `small`, `medium`, `base`, `large`, or
        `L<layers>-H<hidden>` of the compact-model grid such as `L4-H128`), with overrides."""
        from tfbert.registry import PRESETS, architecture

        sizes = architecture(name)
        if sizes is None:
            raise ValueError(
                f"Unknown preset. Expected one of {sorted(PRESETS)} or L<layers>-H<hidden> "
                f"(hidden a multiple of 64). Received: name={name!r}")
        return cls(**{**sizes, **overrides})

    def replace(self, **changes: Any) -> "BertConfig":
        return dataclasses.replace(self, **changes)

    # --- dictionaries -------------------------------------------------------------------

    def to_dict(self) -> dict:
        """tfbert's own key names (the `config.json` of a tfbert model directory)."""
        return dataclasses.asdict(self)

    def _common_dict(self) -> dict:
        """The keys google-research/bert and Hugging Face share."""
        return {
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "max_position_embeddings": self.max_position_embeddings,
            "type_vocab_size": self.type_vocab_size,
            "hidden_dropout_prob": self.hidden_dropout,
            "attention_probs_dropout_prob": self.attention_dropout,
            "initializer_range": self.initializer_range,
        }

    def to_hf_dict(self) -> dict:
        """Hugging Face `config.json` for `BertModel`."""
        return {
            "architectures": ["BertModel"],
            "model_type": "bert",
            **self._common_dict(),
            "hidden_act": _TO_HF_ACT[self.hidden_act],
            "layer_norm_eps": self.layer_norm_eps,
            "pad_token_id": 0,
            "position_embedding_type": "absolute",
        }

    def to_google_dict(self) -> dict:
        """google-research/bert `bert_config.json`.

        Its code knows only the tanh form of GELU and a fixed layer-norm epsilon of 1e-12,
        so a config using anything else cannot be written faithfully.
        """
        if self.hidden_act not in _TO_GOOGLE_ACT:
            raise ValueError(
                "google-research/bert computes only the tanh approximation of GELU, so a "
                "model using the exact form cannot be written as a Google checkpoint without "
                "changing its outputs. Received: hidden_act='gelu'. Export with --to hf or "
                "--to tfbert instead.")
        if self.layer_norm_eps != 1e-12:
            raise ValueError(
                "google-research/bert fixes the layer-norm epsilon at 1e-12. "
                f"Received: layer_norm_eps={self.layer_norm_eps}")
        return {**self._common_dict(), "hidden_act": _TO_GOOGLE_ACT[self.hidden_act]}

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "BertConfig":
        """Read tfbert's own keys, or Hugging Face's (`model_type` or `layer_norm_eps`
        present), or Google's (`num_hidden_layers` without those). An invalid value is a
        `ValueError` that names `source`."""
        try:
            return cls._from_dict(data, source)
        except ValueError as err:
            message = str(err)
            if message.startswith(f"{source}:"):
                raise
            raise ValueError(f"{source}: {message.removeprefix('BertConfig.')}") from None

    @classmethod
    def _from_dict(cls, data: dict, source: str) -> "BertConfig":
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a JSON object. Received: {type(data).__name__}")
        if "num_layers" in data:
            known = {f.name for f in dataclasses.fields(cls)}
            unknown = sorted(set(data) - known)
            if unknown:
                raise ValueError(f"{source}: unknown keys {unknown}; expected only {sorted(known)}")
            return cls(**data)
        if "num_hidden_layers" not in data:
            raise ValueError(
                f"{source}: not a BERT config: expected 'num_layers' (tfbert) or "
                f"'num_hidden_layers' (Google/Hugging Face). Received keys: {sorted(data)}")
        is_hf = "model_type" in data or "layer_norm_eps" in data or "architectures" in data
        if is_hf and data.get("model_type", "bert") != "bert":
            raise ValueError(
                f"{source}: expected model_type 'bert'. "
                f"Received: model_type={data['model_type']!r}")
        if is_hf and data.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(
                f"{source}: only absolute position embeddings are supported. "
                f"Received: position_embedding_type={data['position_embedding_type']!r}")
        act_table = _FROM_HF_ACT if is_hf else _FROM_GOOGLE_ACT
        act = data.get("hidden_act", "gelu")
        if act not in act_table:
            raise ValueError(
                f"{source}: unsupported hidden_act. Expected one of {sorted(act_table)}. "
                f"Received: hidden_act={act!r}")
        try:
            return cls(
                vocab_size=data["vocab_size"],
                hidden_size=data["hidden_size"],
                num_layers=data["num_hidden_layers"],
                num_heads=data["num_attention_heads"],
                intermediate_size=data["intermediate_size"],
                max_position_embeddings=data.get("max_position_embeddings", 512),
                type_vocab_size=data.get("type_vocab_size", 2),
                hidden_dropout=data.get("hidden_dropout_prob", 0.1),
                attention_dropout=data.get("attention_probs_dropout_prob", 0.1),
                hidden_act=act_table[act],
                layer_norm_eps=data.get("layer_norm_eps", 1e-12),
                initializer_range=data.get("initializer_range", 0.02),
            )
        except KeyError as err:
            raise ValueError(f"{source}: missing required key {err.args[0]!r}") from None

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> "BertConfig":
        from tfbert.textfile import read_json

        return cls.from_dict(read_json(path, "a BERT config (a JSON object)"), source=str(path))

    def to_json_file(self, path: str | os.PathLike, flavor: str = "tfbert") -> None:
        data = {"tfbert": self.to_dict, "hf": self.to_hf_dict,
                "google": self.to_google_dict}[flavor]()
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
