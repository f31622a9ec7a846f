"""Checking a SavedModel from elsewhere before `tf.saved_model.load` runs any of it.

A SavedModel is a program: loading it runs its init op, calling a signature runs its
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

from tfbert.export.ops import TF_TEXT_OPS, read_saved_model

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
