"""keras-hub `BertBackbone` presets and objects, in and out.

keras-hub keeps the attention projections as `EinsumDense` kernels of shape
`(hidden, heads, head_size)` (output: `(heads, head_size, hidden)`); tfbert's are plain
`(hidden, hidden)` dense kernels, so conversion is a reshape. keras-hub's BERT uses the
tanh form of GELU, which every import sets.
"""

from __future__ import annotations

import os

import numpy as np

from tfbert.config import BertConfig
from tfbert.convert.checkpoint import Checkpoint, check_vocab, read_json_config
from tfbert.model_dir import encoder_parameters
from tfbert.task import TaskSpec
from tfbert.tokenization.casing import declared_lowercase
from tfbert.textfile import first_line, read_json

EXTRA_MESSAGE = ("keras-hub is needed to read keras-hub presets; install it with "
                 "pip install 'tfbert-keras[kerashub]'")


def is_keras_hub_preset(path) -> bool:
    data = read_json_config(path) or {}
    return "BertBackbone" in f"{data.get('registered_name', '')}{data.get('class_name', '')}"


def _pairs(num_layers):
    """(keras-hub layer attribute path, tfbert path prefix, kind) for every weight."""
    pairs = [
        ("token_embedding", "embeddings/token_embedding", "embedding"),
        ("segment_embedding", "embeddings/segment_embedding", "embedding"),
        ("position_embedding", "embeddings/position_embeddings", "position"),
        ("embeddings_layer_norm", "embeddings/layer_norm", "layer_norm"),
    ]
    for i in range(num_layers):
        hub, ours = f"transformer_layers.{i}", f"block_{i}"
        attention = f"{hub}._self_attention_layer"
        pairs += [
            (f"{attention}._query_dense", f"{ours}/attention/query", "heads_in"),
            (f"{attention}._key_dense", f"{ours}/attention/key", "heads_in"),
            (f"{attention}._value_dense", f"{ours}/attention/value", "heads_in"),
            (f"{attention}._output_dense", f"{ours}/attention_output", "heads_out"),
            (f"{hub}._self_attention_layer_norm", f"{ours}/attention_layer_norm", "layer_norm"),
            (f"{hub}._feedforward_intermediate_dense", f"{ours}/intermediate", "dense"),
            (f"{hub}._feedforward_output_dense", f"{ours}/output", "dense"),
            (f"{hub}._feedforward_layer_norm", f"{ours}/output_layer_norm", "layer_norm"),
        ]
    pairs.append(("pooled_dense", "pooler", "dense"))
    return pairs


def _get(obj, dotted):
    for part in dotted.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def tensors_from_backbone(backbone) -> dict:
    """`{tfbert path: array}` from a built keras-hub `BertBackbone`."""
    hidden = backbone.hidden_dim
    out = {}
    for attr, ours, kind in _pairs(backbone.num_layers):
        layer = _get(backbone, attr)
        values = [np.asarray(w.numpy()) for w in layer.weights]
        if kind == "embedding":
            out[f"{ours}/embeddings"] = values[0]
        elif kind == "position":
            out[ours] = values[0]
        elif kind == "layer_norm":
            out[f"{ours}/gamma"], out[f"{ours}/beta"] = values
        elif kind == "heads_in":  # (hidden, heads, head_size) -> (hidden, hidden)
            out[f"{ours}/kernel"] = values[0].reshape(hidden, hidden)
            out[f"{ours}/bias"] = values[1].reshape(hidden)
        elif kind == "heads_out":  # (heads, head_size, hidden) -> (hidden, hidden)
            out[f"{ours}/kernel"] = values[0].reshape(hidden, hidden)
            out[f"{ours}/bias"] = values[1]
        else:
            out[f"{ours}/kernel"], out[f"{ours}/bias"] = values
    return out


def config_from_backbone(backbone) -> BertConfig:
    return BertConfig(
        vocab_size=backbone.vocabulary_size, hidden_size=backbone.hidden_dim,
        num_layers=backbone.num_layers, num_heads=backbone.num_heads,
        intermediate_size=backbone.intermediate_dim,
        max_position_embeddings=backbone.max_sequence_length,
        type_vocab_size=backbone.num_segments, hidden_dropout=backbone.dropout,
        attention_dropout=backbone.dropout, hidden_act="gelu_tanh", layer_norm_eps=1e-12)


def assign_to_backbone(backbone, tensors: dict) -> None:
    """Sets a keras-hub `BertBackbone`'s weights from `{tfbert path: array}`."""
    for attr, ours, kind in _pairs(backbone.num_layers):
        layer = _get(backbone, attr)
        if kind == "embedding":
            values = [tensors[f"{ours}/embeddings"]]
        elif kind == "position":
            values = [tensors[ours]]
        elif kind == "layer_norm":
            values = [tensors[f"{ours}/gamma"], tensors[f"{ours}/beta"]]
        else:
            values = [tensors[f"{ours}/kernel"], tensors[f"{ours}/bias"]]
        for weight, value in zip(layer.weights, values):
            weight.assign(np.reshape(value, weight.shape))


# The constructor arguments of keras-hub's BertBackbone that a preset may set, and their
# types; `name`, `trainable` and `dtype` are Keras' own.
_BACKBONE_ARGS = {"vocabulary_size": int, "num_layers": int, "num_heads": int,
                  "hidden_dim": int, "intermediate_dim": int, "max_sequence_length": int,
                  "num_segments": int, "dropout": (int, float), "name": str, "trainable": bool}
_DTYPES = ("float32", "float16", "bfloat16", "mixed_float16", "mixed_bfloat16")


def preset_arguments(path) -> dict:
    """The `BertBackbone` arguments of a preset's `config.json`, checked against a schema.

    keras-hub's `from_preset` would deserialize whatever class and arguments the file
    names; a stranger's preset is data, so only `BertBackbone` with its own arguments, of
    their own types, is accepted, and the class is never looked up from the file.
    """
    config_path = os.path.join(path, "config.json")
    data = read_json(config_path, "a keras-hub preset config (a JSON object)")
    if data.get("registered_name") != "keras_hub>BertBackbone" or \
            data.get("class_name") != "BertBackbone":
        raise ValueError(f"{config_path}: expected a keras-hub BertBackbone preset "
                         "(registered_name 'keras_hub>BertBackbone'). Received: "
                         f"{str(data.get('registered_name'))[:60]!r}")
    arguments = data.get("config")
    if not isinstance(arguments, dict):
        raise ValueError(f"{config_path}: 'config' must be an object of BertBackbone arguments")
    arguments = dict(arguments)
    dtype = arguments.pop("dtype", "float32")
    if isinstance(dtype, dict):  # a serialized DTypePolicy
        dtype = (dtype.get("config") or {}).get("name") \
            if dtype.get("class_name") == "DTypePolicy" else None
    if dtype not in _DTYPES:
        raise ValueError(f"{config_path}: config.dtype must be one of {_DTYPES}")
    for name, value in arguments.items():
        kind = _BACKBONE_ARGS.get(name)
        if kind is None:
            raise ValueError(f"{config_path}: unknown BertBackbone argument {name[:60]!r}; "
                             f"expected only {sorted(_BACKBONE_ARGS)}")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"{config_path}: config.{name} has the wrong type "
                             f"({type(value).__name__})")
    # The same checks as a tfbert config (positive sizes, heads dividing the width).
    config = BertConfig(vocab_size=arguments.get("vocabulary_size", 0),
                        hidden_size=arguments.get("hidden_dim", 0),
                        num_layers=arguments.get("num_layers", 0),
                        num_heads=arguments.get("num_heads", 0),
                        intermediate_size=arguments.get("intermediate_dim", 0),
                        max_position_embeddings=arguments.get("max_sequence_length", 512),
                        type_vocab_size=arguments.get("num_segments", 2))
    weights = os.path.join(path, "model.weights.h5")
    if not os.path.isfile(weights):
        raise ValueError(f"{path}: no model.weights.h5; expected a keras-hub preset directory")
    # An HDF5 file cannot hold fewer bytes than its float16 numbers: checked before building.
    if os.path.getsize(weights) < 2 * encoder_parameters(config):
        raise ValueError(f"{weights}: {os.path.getsize(weights):,} bytes, too small for the "
                         f"{encoder_parameters(config):,} numbers {config_path} describes")
    return {**arguments, "dtype": dtype}


def read_keras_hub_preset(path) -> Checkpoint:
    """Reads a keras-hub BERT preset directory (saved with `save_to_preset`)."""
    try:
        import keras_hub
    except ImportError:
        raise ValueError(f"{path}: {EXTRA_MESSAGE}") from None
    backbone = keras_hub.models.BertBackbone(**preset_arguments(path))
    weights = os.path.join(path, "model.weights.h5")
    try:
        backbone.load_weights(weights)
    except (ValueError, OSError, KeyError) as err:
        raise ValueError(f"{weights}: cannot load the preset's weights "
                         f"({first_line(err)[:200]})") from None
    config = config_from_backbone(backbone)
    lowercase = declared_lowercase(path)
    vocab = os.path.join(path, "assets", "tokenizer", "vocabulary.txt")
    vocab = vocab if os.path.isfile(vocab) else None
    check_vocab(config, vocab, path)
    return Checkpoint(config, TaskSpec(task="encoder", lowercase=lowercase),
                      tensors_from_backbone(backbone), source=path, vocab_file=vocab)
