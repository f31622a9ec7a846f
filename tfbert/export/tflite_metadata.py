"""Attach TFLite Model Metadata to a BERT text classifier so that MediaPipe Tasks'
`TextClassifier` (and the TFLite Task Library's `BertNLClassifier`) run it on raw text.

Written against the flatbuffer classes that the mediapipe wheel ships
(`metadata_schema_py_generated`, `schema_py_generated`) because mediapipe's own
metadata writer needs a native module that is missing from the wheel. The layout
follows the TFLite metadata populator:

* the metadata is a `ModelMetadata` flatbuffer (file identifier "M001") stored in one
  of the model's `buffers`, pointed at by a `Model.metadata` entry named
  "TFLITE_METADATA";
* the associated files (vocab.txt, labels.txt) are a ZIP archive (stored, not
  deflated) appended after the flatbuffer, with offsets counted from the start of the
  whole file.

How MediaPipe reads it (text_model_utils.cc, text_preprocessing_graph.cc,
bert_preprocessor_calculator.cc):

* three int32 inputs + metadata => BERT model; max sequence length = input dim 1;
* `input_tensor_metadata[i]` describes subgraph input i, and the preprocessor finds
  the ids / mask / segment ids tensors by the metadata *names* "ids", "mask",
  "segment_ids", so the inputs may be in any order as long as the metadata list
  follows the subgraph's input order (done below);
* `input_process_units[0]` must be the tokenizer (BertTokenizerOptions whose
  vocab_file names a packed file);
* the output's TENSOR_AXIS_LABELS associated file gives the category names.
"""

import flatbuffers

from tfbert.export.tflite_files import LABELS_FILE, VOCAB_FILE, pack_files

try:  # the schema's generated Python classes ship inside the mediapipe wheel
    from mediapipe.tasks.metadata import metadata_schema_py_generated as _md
    from mediapipe.tasks.metadata import schema_py_generated as _tfl
except ImportError as err:  # pragma: no cover (the test extra installs mediapipe)
    raise ValueError("--tokenizer metadata needs the mediapipe package for the TFLite "
                     "metadata schema: pip install 'tfbert-keras[mediapipe]'") from err

_METADATA_FIELD = "TFLITE_METADATA"
_METADATA_IDENTIFIER = b"M001"
_TFLITE_IDENTIFIER = b"TFL3"
# What the populator's native GetMinimumMetadataParserVersion returns for this
# metadata: VOCABULARY files need 1.0.1, input_process_units and BertTokenizerOptions
# 1.1.0, nothing else used here is newer than 1.0.0.
_MIN_PARSER_VERSION = "1.1.0"

_INPUT_DESCRIPTIONS = {
    "ids": "Tokenized ids of the input text.",
    "mask": "Mask with 1 for real tokens and 0 for padding tokens.",
    "segment_ids": "0 for the first sequence, 1 for the second sequence if exists.",
}


def _guess_role(tensor_name):
    """Role of an input from the converter's tensor name, e.g.
    'serving_default_padding_mask:0' -> 'mask'. Checked most specific first."""
    name = tensor_name.lower()
    if "segment" in name or "type_ids" in name:
        return "segment_ids"
    if "mask" in name:
        return "mask"
    if "ids" in name:
        return "ids"
    return None


def _input_roles(subgraph, input_names):
    """The role ("ids" / "mask" / "segment_ids") of each subgraph input, in order."""
    names = [subgraph.tensors[i].name.decode() for i in subgraph.inputs]
    if input_names is None:
        roles = [_guess_role(n) for n in names]
    else:
        roles = [None] * len(names)
        for role, ref in input_names.items():
            if role not in _INPUT_DESCRIPTIONS:
                raise ValueError(f"Unknown input role {role!r}; expected one of "
                                 f"{sorted(_INPUT_DESCRIPTIONS)}.")
            pos = ref if isinstance(ref, int) else names.index(ref) if ref in names else None
            if pos is None or not 0 <= pos < len(names):
                raise ValueError(f"No model input {ref!r} for {role!r}; inputs are {names}.")
            roles[pos] = role
    if sorted(r or "" for r in roles) != sorted(_INPUT_DESCRIPTIONS):
        raise ValueError(f"Could not map the model inputs {names} one-to-one onto "
                         f"{sorted(_INPUT_DESCRIPTIONS)} (got {roles}); pass input_names.")
    return roles


def _tensor_metadata(name, description, files=None, value_range=None):
    tensor = _md.TensorMetadataT()
    tensor.name = name
    tensor.description = description
    tensor.content = _md.ContentT()
    tensor.content.contentPropertiesType = _md.ContentProperties.FeatureProperties
    tensor.content.contentProperties = _md.FeaturePropertiesT()
    tensor.stats = _md.StatsT()
    if value_range is not None:
        tensor.stats.min, tensor.stats.max = [value_range[0]], [value_range[1]]
    tensor.associatedFiles = files
    return tensor


def _associated_file(name, description, file_type):
    f = _md.AssociatedFileT()
    f.name, f.description, f.type = name, description, file_type
    return f


def _check_model(subgraph, max_length, num_labels):
    """Fail here, with a clear message, on what MediaPipe would reject or misread.
    MediaPipe takes L from shape [1, L] and treats a -1 at position 1 of the shape
    signature as a dynamic length (a -1 batch in the signature, as Keras' export
    writes, is fine)."""
    type_names = {v: k for k, v in vars(_tfl.TensorType).items() if not k.startswith("_")}

    def describe(t):
        shape = [int(d) for d in (t.shape if t.shape is not None else [])]
        signature = [int(d) for d in (t.shapeSignature if t.shapeSignature is not None
                                      else shape)]
        return type_names.get(t.type, t.type), shape, signature

    for i in subgraph.inputs:
        t = subgraph.tensors[i]
        kind, shape, signature = describe(t)
        if kind != "INT32" or shape != [1, max_length] or signature[1:] != [max_length]:
            raise ValueError(f"Input {t.name.decode()!r} must be INT32 [1, {max_length}]; "
                             "got (type, shape, shape_signature) = %s." % (describe(t),))
    if len(subgraph.outputs) != 1:
        raise ValueError(f"Expected one output tensor, got {len(subgraph.outputs)}.")
    out = subgraph.tensors[subgraph.outputs[0]]
    if describe(out)[:2] != ("FLOAT32", [1, num_labels]):
        raise ValueError(f"Output must be FLOAT32 [1, {num_labels}]; got (type, shape, "
                         "shape_signature) = %s." % (describe(out),))


def add_bert_classifier_metadata(model_bytes: bytes, vocab_path: str, labels: list[str],
                                 lowercase: bool, max_length: int,
                                 name: str = "tfbert classifier",
                                 input_names: dict | None = None) -> bytes:
    """Returns `model_bytes` with classifier metadata, vocab.txt and labels.txt attached.

    `model_bytes`: a TFLite flatbuffer with one subgraph, three int32 [1, max_length]
    inputs (token ids, padding mask, segment ids; any order) and one float32
    [1, len(labels)] output of probabilities.
    `input_names`: maps "ids", "mask", "segment_ids" each to a model input, given as the
    TFLite tensor name (e.g. "serving_default_token_ids:0") or as the position in the
    subgraph's input list (int). When None, roles are guessed from the tensor names:
    "segment"/"type_ids" -> segment_ids, "mask" -> mask, else "ids" -> ids.
    `lowercase` must be True: MediaPipe and the Task Library lower-case (ASCII) every
    input before WordPiece and the metadata cannot say otherwise, so a cased model
    would be fed different ids than it was trained on.
    Any metadata or packed files already in the model are replaced.
    """
    if not lowercase:
        raise ValueError("MediaPipe's BERT preprocessor always lower-cases the text; "
                         "a cased (lowercase=False) model cannot be exported for it.")
    if any("\n" in label or not label for label in labels):
        raise ValueError("Labels must be non-empty and contain no newline.")
    with open(vocab_path, "rb") as f:
        vocab = f.read()
    tokens = set(vocab.decode("utf-8").splitlines())
    # MediaPipe adds [CLS]/[SEP] itself and silently uses id 0 if they're missing.
    missing = {"[CLS]", "[SEP]", "[UNK]"} - tokens
    if missing:
        raise ValueError(f"Vocabulary {vocab_path} lacks {sorted(missing)}.")

    # Object API copy of the model; this also drops any ZIP appended to the input.
    model = _tfl.ModelT.InitFromObj(_tfl.Model.GetRootAsModel(model_bytes, 0))
    if len(model.subgraphs) != 1:
        raise ValueError(f"Expected one subgraph, got {len(model.subgraphs)}.")
    if any(b.offset for b in model.buffers or []):
        # >2 GB models keep tensor data outside the flatbuffer; re-packing would lose it.
        raise ValueError("Models with external (offset) buffers are not supported.")
    subgraph = model.subgraphs[0]
    roles = _input_roles(subgraph, input_names)
    _check_model(subgraph, max_length, len(labels))

    # Tokenizer: the vocab is referenced by file name, the file itself goes in the ZIP.
    tokenizer = _md.ProcessUnitT()
    tokenizer.optionsType = _md.ProcessUnitOptions.BertTokenizerOptions
    tokenizer.options = _md.BertTokenizerOptionsT()
    tokenizer.options.vocabFile = [_associated_file(
        VOCAB_FILE, "Vocabulary file to convert natural language words to embedding "
        "vectors.", _md.AssociatedFileType.VOCABULARY)]

    subgraph_md = _md.SubGraphMetadataT()
    # Must follow the subgraph's input order: entry i describes input i.
    subgraph_md.inputTensorMetadata = [
        _tensor_metadata(role, _INPUT_DESCRIPTIONS[role]) for role in roles]
    subgraph_md.inputProcessUnits = [tokenizer]
    subgraph_md.outputTensorMetadata = [_tensor_metadata(
        "probability", "Probabilities of the labels respectively.",
        files=[_associated_file(LABELS_FILE, "Labels for categories that the model can "
                                "recognize.", _md.AssociatedFileType.TENSOR_AXIS_LABELS)],
        value_range=(0.0, 1.0))]

    metadata = _md.ModelMetadataT()
    metadata.name = name
    metadata.description = "Classify the input text into a set of known categories."
    metadata.minParserVersion = _MIN_PARSER_VERSION
    metadata.subgraphMetadata = [subgraph_md]
    builder = flatbuffers.Builder(0)
    builder.Finish(metadata.Pack(builder), _METADATA_IDENTIFIER)
    metadata_buffer = _tfl.BufferT()
    metadata_buffer.data = bytes(builder.Output())

    # Point a "TFLITE_METADATA" entry at the buffer, replacing an existing one.
    model.buffers = model.buffers or []
    model.metadata = model.metadata or []
    entry = next((m for m in model.metadata if m.name.decode() == _METADATA_FIELD), None)
    if entry is None:
        entry = _tfl.MetadataT()
        entry.name = _METADATA_FIELD
        model.metadata.append(entry)
        model.buffers.append(metadata_buffer)
        entry.buffer = len(model.buffers) - 1
    else:
        model.buffers[entry.buffer] = metadata_buffer
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), _TFLITE_IDENTIFIER)

    # The associated files as a stored ZIP after the model (offsets from the start of the
    # model, as the populator writes them; stored because MediaPipe hands out views).
    return pack_files(bytes(builder.Output()), {VOCAB_FILE: vocab,
                                                LABELS_FILE: "\n".join(labels)})
