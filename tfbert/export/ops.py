"""Which ops a SavedModel uses, and whether a TF Serving release can run them.

TF Serving's ModelServer links all of TensorFlow's own ops and (since 2.2) the op library
of the tf-text version it pins; the table below gives each tf-text op a tfbert graph may
use the first TF Serving release whose ModelServer has it. An op that is neither
TensorFlow's nor in the table (a custom op from another library) fails the check, naming it.
"""

from __future__ import annotations

import os

# tf-text op -> the first TF Serving release (major, minor) whose ModelServer links it: the
# tf-text version TF Serving pins, against the tf-text release that added the op
# (TF Serving release notes and workspace.bzl; 2.8-2.10 pinned tf-text 2.6, before the
# fast WordPiece ops; FastBertNormalize missed 2.11; 2.13-2.19 pinned tf-text 2.12.1).
TF_TEXT_OPS = {
    "WhitespaceTokenizeWithOffsets": (2, 0),
    "WordpieceTokenizeWithOffsets": (2, 0),
    "NormalizeUTF8": (2, 2),
    "CaseFoldUTF8": (2, 2),
    "RegexSplitWithOffsets": (2, 2),
    "NormalizeUTF8WithOffsetsMap": (2, 6),
    "WhitespaceTokenizeWithOffsetsV2": (2, 11),
    "FastWordpieceTokenizeWithOffsets": (2, 11),
    "FastWordpieceDetokenize": (2, 11),
    "FastBertNormalize": (2, 12),
    "RoundRobinTrim": (2, 20),
    "RoundRobinGenerateMasks": (2, 20),
}


def parse_version(text) -> tuple:
    """`"2.20"` (or `"2.20.1"`) as `(2, 20)`."""
    parts = str(text).split(".")
    try:
        major, minor = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        raise ValueError(f"TF Serving version must look like 2.20. Received: {text!r}") from None
    return major, minor


MAX_SAVED_MODEL_BYTES = 2 << 30  # protobuf's own limit for one message


def read_saved_model(path):
    """The `SavedModel` proto of `path/saved_model.pb`; a damaged file is a `ValueError`."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    file = os.path.join(path, "saved_model.pb")
    if not os.path.isfile(file):
        raise ValueError(f"{path}: no saved_model.pb; expected a SavedModel directory")
    size = os.path.getsize(file)
    if size > MAX_SAVED_MODEL_BYTES:
        raise ValueError(f"{file}: {size} bytes; a SavedModel graph is at most 2 GiB")
    proto = saved_model_pb2.SavedModel()
    try:
        with open(file, "rb") as f:
            proto.ParseFromString(f.read())
    except DecodeError as err:
        raise ValueError(f"{file}: not a readable SavedModel graph ({err}); truncated or "
                         "not written by tf.saved_model.save") from None
    if not proto.meta_graphs:
        raise ValueError(f"{file}: holds no graph; expected a SavedModel")
    return proto


def saved_model_ops(path) -> set:
    """Every op type in a SavedModel's graph, its function library included."""
    proto = read_saved_model(path)
    ops = set()
    for meta_graph in proto.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    # Calls of the graph's own functions are not ops a server must link.
    functions = {f.signature.name for mg in proto.meta_graphs
                 for f in mg.graph_def.library.function}
    return ops - functions


def _is_tensorflow_op(op) -> bool:
    """Whether `op` is one of TensorFlow's own ops (`tf.raw_ops` lists exactly those;
    tf-text's ops share the registry once imported, but not `tf.raw_ops`)."""
    import tensorflow as tf

    return hasattr(tf.raw_ops, op)


def check_serving_ops(ops, serving_version) -> list:
    """Raises a `ValueError` naming the first op the TF Serving release cannot run.

    Returns the tf-text ops used, sorted, for the export's record.
    """
    target = parse_version(serving_version)
    used_text = []
    for op in sorted(ops):
        # Newer tf-text ops carry a "TFText>" namespace in the graph.
        short = op.split(">", 1)[-1] if op.startswith("TFText>") else op
        if short in TF_TEXT_OPS:
            needed = TF_TEXT_OPS[short]
            if target < needed:
                raise ValueError(
                    f"op {op} (tensorflow-text) is linked by TF Serving only from "
                    f"{needed[0]}.{needed[1]}; the target is {target[0]}.{target[1]}. "
                    f"Serve with tensorflow/serving:{needed[0]}.{needed[1]} or newer")
            used_text.append(op)
        elif not _is_tensorflow_op(op):
            raise ValueError(f"op {op} is neither a TensorFlow op nor a tensorflow-text op "
                             f"that TF Serving links ({', '.join(sorted(TF_TEXT_OPS))}); "
                             "TF Serving cannot run this graph")
    return used_text
