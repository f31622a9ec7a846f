"""TF Serving's batching parameters: the `BatchingParameters` text proto that
`tensorflow_model_server --enable_batching --batching_parameters_file=FILE` reads.

Every SavedModel version holds one, `batching_params.pbtxt` (the name TF Serving reads
per model with `--enable_per_model_batching_parameters`), and `tools/bench_export.py
--batching-parameters FILE` replays requests through the same policy.

The message is TF Serving's (`session_bundle_config.proto`), which the
`tensorflow-serving-api` wheel does not ship: it is declared here with the fields a CPU
deployment sets, and parsed by protobuf's own text format, so a file TF Serving would
reject (a misspelt field, a number where a wrapper `{ value: N }` belongs) is rejected here
too, with the line it is on.
"""

from __future__ import annotations

import dataclasses
import os

from google.protobuf import descriptor_pb2, descriptor_pool, text_format
from google.protobuf import wrappers_pb2  # noqa: F401  (registers the wrapper types)
from google.protobuf import message_factory

FILE_NAME = "batching_params.pbtxt"

# What the export writes. Batch-32 requests of 128 pieces take ~0.5 s on 2 cores, so
# waiting 2 ms for a batch to fill costs a lone request under 1 %; one batch thread per
# model keeps the session's intra-op threads the only ones computing (two batches in
# parallel on 2 cores would each get half as many).
DEFAULT = {"max_batch_size": 32, "batch_timeout_micros": 2000, "num_batch_threads": 1,
           "max_enqueued_batches": 100, "pad_variable_length_inputs": True}
# An XLA export compiles once per batch shape (seconds each): batches are padded up to
# these sizes, so at most six shapes are ever compiled.
XLA_BATCH_SIZES = (1, 2, 4, 8, 16, 32)


def default_parameters(xla=False):
    """What the export writes: `DEFAULT`, plus `allowed_batch_sizes` for an XLA export."""
    return {**DEFAULT, **({"allowed_batch_sizes": XLA_BATCH_SIZES} if xla else {})}

# (name, wrapper type or scalar type): TF Serving's BatchingParameters, field numbers as there.
_FIELDS = (
    ("max_batch_size", ".google.protobuf.Int64Value", 1),
    ("batch_timeout_micros", ".google.protobuf.Int64Value", 2),
    ("thread_pool_name", ".google.protobuf.StringValue", 3),
    ("num_batch_threads", ".google.protobuf.Int64Value", 4),
    ("max_enqueued_batches", ".google.protobuf.Int64Value", 5),
    ("allowed_batch_sizes", "repeated int64", 6),
    ("pad_variable_length_inputs", "bool", 7),
    ("enable_large_batch_splitting", ".google.protobuf.BoolValue", 8),
    ("max_execution_batch_size", ".google.protobuf.Int64Value", 9),
)


def _message_class():
    F = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="tfbert/tensorflow_serving_batching.proto", package="tensorflow.serving",
        dependency=["google/protobuf/wrappers.proto"], syntax="proto3")
    message = proto.message_type.add(name="BatchingParameters")
    for name, kind, number in _FIELDS:
        field = message.field.add(name=name, number=number, label=F.LABEL_OPTIONAL)
        if kind.startswith("."):
            field.type, field.type_name = F.TYPE_MESSAGE, kind
        elif kind == "bool":
            field.type = F.TYPE_BOOL
        else:
            field.type, field.label = F.TYPE_INT64, F.LABEL_REPEATED
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.AddSerializedFile(proto.SerializeToString())
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


BatchingParametersProto = _message_class()


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
    """The policy of TF Serving's shared batch scheduler, with TF Serving's defaults for
    the fields a file leaves out (`num_batch_threads`: the machine's cores).

    Example:
    >>> p = parse_batching_parameters("max_batch_size { value: 8 }\\n"
    ...                               "batch_timeout_micros { value: 500 }")
    >>> p.max_batch_size, p.batch_timeout_micros, p.max_enqueued_batches
    (8, 500, 10)
    """

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    num_batch_threads: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)
    max_enqueued_batches: int = 10
    allowed_batch_sizes: tuple = ()
    pad_variable_length_inputs: bool = False

    def batch_sizes(self):
        """The sizes a batch is padded up to (the allowed ones), else `None`."""
        return self.allowed_batch_sizes or None

    def padded_size(self, size):
        """The size a batch of `size` requests runs at (the next allowed size)."""
        return next((s for s in self.allowed_batch_sizes if s >= size), size)


def parse_batching_parameters(text, source="batching parameters"):
    """`BatchingParameters` of a text proto; a `ValueError` naming `source` and the line
    for a field TF Serving does not have, a malformed value or an inconsistent policy."""
    message = BatchingParametersProto()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as err:
        raise ValueError(f"{source}: not a TF Serving BatchingParameters text proto "
                         f"({err}); expected fields like 'max_batch_size {{ value: 32 }}'"
                         ) from None
    values = {}
    for name, kind, _ in _FIELDS:
        if kind.startswith(".") and message.HasField(name):
            values[name] = getattr(message, name).value
        elif kind == "bool":
            values[name] = message.pad_variable_length_inputs
        elif kind.startswith("repeated"):
            values[name] = tuple(message.allowed_batch_sizes)
    for name in ("max_batch_size", "num_batch_threads", "max_enqueued_batches"):
        if name in values and values[name] < 1:
            raise ValueError(f"{source}: {name} must be at least 1. Received: {values[name]}")
    if values.get("batch_timeout_micros", 0) < 0:
        raise ValueError(f"{source}: batch_timeout_micros must be >= 0. "
                         f"Received: {values['batch_timeout_micros']}")
    kept = {k: v for k, v in values.items()
            if k in {f.name for f in dataclasses.fields(BatchingParameters)}}
    parameters = BatchingParameters(**kept)
    sizes = parameters.allowed_batch_sizes
    if sizes and (list(sizes) != sorted(set(sizes)) or sizes[-1] != parameters.max_batch_size):
        # TF Serving refuses these too: the last allowed size must be max_batch_size.
        raise ValueError(f"{source}: allowed_batch_sizes must increase and end at "
                         f"max_batch_size ({parameters.max_batch_size}). Received: "
                         f"{list(sizes)}")
    return parameters


def read_batching_parameters(path):
    """`parse_batching_parameters` of the file at `path`."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as err:
        raise ValueError(f"{path}: cannot read the batching parameters file "
                         f"({err.strerror})") from None
    return parse_batching_parameters(text, path)


def format_batching_parameters(values=None):
    """The text proto of `values` (default `DEFAULT`), as TF Serving reads it."""
    message = BatchingParametersProto()
    for name, value in (DEFAULT if values is None else values).items():
        kind = dict((n, k) for n, k, _ in _FIELDS)[name]
        if kind.startswith("."):
            getattr(message, name).value = value
        elif kind.startswith("repeated"):
            getattr(message, name).extend(value)
        else:
            setattr(message, name, value)
    return text_format.MessageToString(message)


def write_batching_parameters(version_dir, xla=False):
    """Writes `default_parameters(xla)` as `version_dir/batching_params.pbtxt`; returns
    its path."""
    path = os.path.join(version_dir, FILE_NAME)
    with open(path, "w", encoding="utf-8") as f:
        f.write(format_batching_parameters(default_parameters(xla)))
    return path
