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
from tfbert.model_dir import TaskSpec, declared_lowercase

EXTRA_MESSAGE = ("keras-hub is needed to read keras-hub presets; install it with "
                 "pip install 'tfbert[kerashub]'")


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


def read_keras_hub_preset(path) -> Checkpoint:
    """Reads a keras-hub BERT preset directory (saved with `save_to_preset`)."""
    try:
        import keras_hub
    except ImportError:
        raise ValueError(f"{path}: {EXTRA_MESSAGE}") from None
    backbone = keras_hub.models.BertBackbone.from_preset(path)
    config = config_from_backbone(backbone)
    lowercase = declared_lowercase(path)
    vocab = os.path.join(path, "assets", "tokenizer", "vocabulary.txt")
    vocab = vocab if os.path.isfile(vocab) else None
    check_vocab(config, vocab, path)
    return Checkpoint(config, TaskSpec(task="encoder", lowercase=lowercase),
                      tensors_from_backbone(backbone), source=path, vocab_file=vocab)
