"""The ops a SavedModel holds: which a TF Serving release can run, and whether one from
elsewhere holds only ops that tfbert's own exports use.

Serving: TF Serving's ModelServer links all of TensorFlow's own ops and (since 2.2) the op
library of the tf-text version it pins; the table below gives each tf-text op a tfbert graph
may use the first TF Serving release whose ModelServer has it. An op that is neither
TensorFlow's nor in the table (a custom op from another library) fails the check, naming it.

Trust, checked before `tf.saved_model.load` runs any of a SavedModel from elsewhere: a
SavedModel is a program: loading it runs its init op, calling a signature runs its
functions, and TensorFlow has ops that read and write files (`WriteFile`, `PrintV2` to a
file), call Python or reach other machines. The check is an allow-list: every op in every
function the file carries must be one that tfbert's own exports use (the set below, taken
from exports of every task, cased and uncased, and kept true by a test that checks every
export against it) or a tf-text tokenizer op; the save and restore functions, which the
loader uses to read the variables, may hold only checkpoint ops. Asset names must stay
inside `assets/`. What the check cannot bound is compute: a graph may still ask for a
large `Fill`.
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

# The ops of tfbert's serving, encode and fill-mask signatures (and of the Keras functions
# traced beside them), plus the activations a config may choose (Relu; Pow for the tanh
# GELU) and the control-flow forms TensorFlow may pick for the same code.
SERVING_OPS = frozenset("""
    Abs AddV2 All Any ArgMax Assert AssignVariableOp BatchMatMulV2 BiasAdd BroadcastArgs
    BroadcastTo Cast ConcatV2 Const Cumsum DenseBincount Einsum EnsureShape Equal Erf Erfc
    Exp ExpandDims Fill FloorDiv FloorMod GatherNd GatherV2 Greater GreaterEqual Identity
    IdentityN If Less LessEqual Log LogicalAnd LogicalNot LogicalOr LogSoftmax MatMul Max
    Maximum Mean Min Minimum Mul Neg NoOp NotEqual OneHot OnesLike Pack Pad PadV2
    PartitionedCall Placeholder Pow Prod Range Rank ReadVariableOp RealDiv Relu Reshape
    Rsqrt ScatterNd Select SelectV2 Shape Sigmoid Size Slice Softmax Split SplitV Sqrt
    Square SquaredDifference Squeeze StatefulPartitionedCall StatelessIf StatelessWhile
    StaticRegexFullMatch StaticRegexReplace StopGradient StridedSlice StringJoin StringLength
    StringLower StringSplitV2 Sub Substr Sum Tanh TensorScatterUpdate Tile TopKV2 Transpose
    UnicodeDecode UnicodeEncode UnicodeTranscode Unpack UnsortedSegmentJoin
    UnsortedSegmentMax UnsortedSegmentMin UnsortedSegmentSum UpperBound VarHandleOp
    VarIsInitializedOp Where While ZerosLike
    RaggedGather RaggedRange RaggedTensorToTensor NormalizeUTF8
""".split())

# What `tf.saved_model.save` puts in the functions that write and read the variables.
CHECKPOINT_OPS = frozenset("""
    SaveV2 RestoreV2 MergeV2Checkpoints ShardedFilename StringJoin StaticRegexFullMatch
    Select Pack Const Identity NoOp ReadVariableOp AssignVariableOp DisableCopyOnRead
    Placeholder PartitionedCall StatefulPartitionedCall
""".split())


def _called(attrs) -> set:
    """Names of the functions a node's attributes call."""
    names = set()
    for value in attrs.values():
        if value.HasField("func"):
            names.add(value.func.name)
        names.update(f.name for f in value.list.func)
    return names


def _allowed(op) -> bool:
    # Newer tf-text ops carry a "TFText>" namespace in the graph.
    return op in SERVING_OPS or op.split(">", 1)[-1] in TF_TEXT_OPS


def check_untrusted_saved_model(path) -> None:
    """Raises a `ValueError` naming the first op or asset outside the allow-lists."""
    proto = read_saved_model(path)
    file = os.path.join(path, "saved_model.pb")
    for meta_graph in proto.meta_graphs:
        library = {f.signature.name: f for f in meta_graph.graph_def.library.function}
        saver = meta_graph.saver_def
        saver_nodes = {saver.save_tensor_name.split(":")[0], saver.restore_op_name}

        def closure(start):
            seen, todo = set(), list(start)
            while todo:
                name = todo.pop()
                if name in seen or name not in library:
                    continue
                seen.add(name)
                for node in library[name].node_def:
                    todo.extend(_called(node.attr))
                    todo.append(node.op)  # a function called directly by its name
            return seen

        save_roots, other_roots = set(), set()
        for node in meta_graph.graph_def.node:
            (save_roots if node.name in saver_nodes else other_roots).update(_called(node.attr))
            if node.name not in saver_nodes and node.op not in library and \
                    not _allowed(node.op):
                raise ValueError(f"{file}: the graph uses op {node.op}, which tfbert's exports "
                                 "never use; refusing to load a SavedModel tfbert did not write")
        # Every function counts, reachable or not (the object graph can name functions the
        # graph does not call), except those only the save/restore nodes reach.
        saving = closure(save_roots) - closure(other_roots)
        for name, function in library.items():
            for node in function.node_def:
                if node.op in library:
                    continue
                if name in saving:
                    if node.op not in CHECKPOINT_OPS:
                        raise ValueError(f"{file}: the save/restore functions use op "
                                         f"{node.op}; expected only checkpoint ops")
                elif not _allowed(node.op):
                    raise ValueError(f"{file}: the graph uses op {node.op}, which tfbert's "
                                     "exports never use; refusing to load a SavedModel "
                                     "tfbert did not write")
        for asset in meta_graph.asset_file_def:
            name = asset.filename
            if os.path.basename(name) != name or name in ("", ".", ".."):
                raise ValueError(f"{file}: asset {name!r} is not a file name inside assets/")
