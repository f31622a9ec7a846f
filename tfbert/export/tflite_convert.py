"""Converting to LiteRT: a model as `.tflite` bytes, with a tokenizer in metadata or in-model,
quantized or not, and the interpreter that checks it.

`metadata` (single-text classifiers): int32 `ids`/`mask`/`segment_ids` `[1, L]` in, softmax
`probability` out, with TFLite metadata (vocab, BERT tokenizer unit, labels) that MediaPipe
Tasks `TextClassifier` and the TFLite Task Library's `BertNLClassifier` read.
`in-model` (classify, pair, ner, qa): raw UTF-8 strings `[1]` in; tf-text's
`FastBertTokenizer` (NFKD normalisation; TFLite has no kernels for tfbert's exact one) runs
inside, as custom ops the tf-text registrar provides. Outputs —
classify/pair: `probabilities` `[1, labels]`; ner: per word piece `tag_ids`, `tag_scores`
and UTF-8 byte `starts`/`ends` `[1, L-2]`, every tag's `tag_probabilities` `[1, L-2, labels]`
(from which `LitePredictor` decodes an IOB2 model's best valid tag sequence; `tag_ids` are
each piece's argmax), and `num_pieces`; qa (one window: question,
then as much context as fits): `start`/`end` byte offsets in the context (-1: no answer)
and `score`, and the n best spans `nbest_starts`/`nbest_ends`/`nbest_scores` `[1, N]`
(padding -1, -1, 0).

Every conversion is checked against the graph it came from on sample inputs: a converted
Keras 3 model can come out all-NaN without any error.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from tfbert.export.limits import MIN_CALIBRATION
from tfbert.export.tflite_graph import LiteModule
from tfbert.quiet import held_stderr
from tfbert.task.decoding import DEFAULT_N_BEST

QUANTIZE = ("none", "fp16", "dynamic", "int8")
TOKENIZERS = ("metadata", "in-model")
IN_MODEL_TASKS = ("classify", "pair", "ner", "qa")
# Largest |TFLite - TensorFlow| accepted on the sample inputs, per variant (probabilities
# and logits); quantized variants are judged on the task metric in the report instead.
TOLERANCE = {"none": 1e-4, "fp16": 5e-2}
# Kept in float in int8 models (by tensor name): inside each attention layer everything but
# the query/key/value projections (the scores, whose softmax input spans the -1e9 padding
# bias and leaves int8 no resolution for real scores, the mask, softmax and both batched
# matmuls), and the LayerNorms. The projections, attention output and feed-forward layers
# (all the weights) are int8. Measured on bbc-news (MiniLM, seq 256, 100 test texts):
# all-int8 77 % (204 texts) and 4x slower than this; mask/softmax/LayerNorm float only
# 91 %; this 96 % at 28 ms (2 threads) against the float model's 95 % at 65 ms. A mean
# pooling head stays float too: its sum over up to 512 positions spans a range 512 times
# the mean's, which one int8 scale could not resolve for short texts.
FLOAT_IN_INT8 = re.compile(r"attention(_\d+)?/(?!(query|key|value))|layer_norm|mean_pooling")


def check_request(spec, tokenizer, quantize):
    """A one-line `ValueError` for a combination the format cannot express."""
    if quantize not in QUANTIZE:
        raise ValueError(f"--quantize must be one of {', '.join(QUANTIZE)}. "
                         f"Received: {quantize!r}")
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"--tokenizer must be one of {', '.join(TOKENIZERS)}. "
                         f"Received: {tokenizer!r}")
    if spec.window_pooling:
        # A .tflite takes one window of batch 1; pooling a text's windows would need the
        # app to cut and pool them, so it would answer differently from the model.
        raise ValueError(f"--format tflite: this {spec.task} model reads long texts in "
                         "windows (fine-tuned with --doc-stride), which a .tflite does not; "
                         "export a SavedModel, or fine-tune without --doc-stride for phones")
    if tokenizer == "metadata":
        if spec.task != "classify" or spec.multi_label:
            raise ValueError(
                f"--tokenizer metadata supports single-label, single-text classifiers only "
                f"(MediaPipe's "
                f"TextClassifier / BertNLClassifier); a {spec.task!r}"
                f"{' multi-label' if spec.multi_label else ''} model needs "
                f"--tokenizer in-model" + ("" if spec.task in IN_MODEL_TASKS else
                                           f", which supports {', '.join(IN_MODEL_TASKS)}"))
        if not spec.lowercase:
            raise ValueError("--tokenizer metadata needs an uncased model: MediaPipe's BERT "
                             "tokenizer always lower-cases; use --tokenizer in-model")
    elif spec.task not in IN_MODEL_TASKS:
        raise ValueError(f"--tokenizer in-model supports {', '.join(IN_MODEL_TASKS)}. "
                         f"Received a {spec.task!r} model")


def check_int8(tokenizer, calibration):
    """Full int8 needs id inputs (the calibrator cannot run tf-text's custom ops) and a
    representative sample of at least `MIN_CALIBRATION` training texts."""
    if tokenizer == "in-model":
        raise ValueError("--quantize int8 needs --tokenizer metadata: the int8 calibrator "
                         "cannot run tf-text's custom tokenizer ops; use --quantize dynamic "
                         "for in-model tokenizers")
    if calibration is None or len(calibration) < MIN_CALIBRATION:
        raise ValueError(f"--quantize int8 calibrates on a representative sample of at least "
                         f"{MIN_CALIBRATION} training texts (--calibration-data). Received: "
                         f"{0 if calibration is None else len(calibration)}")


def _converter(saved_model_dir, module, quantize, calibration):
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir,
                                                         signature_keys=["serving_default"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if module.kind == "in-model":
        converter.allow_custom_ops = True
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        names = module.input_names()

        def representative():
            for sample in calibration:
                yield dict(zip(names, sample))

        converter.representative_dataset = representative
    return converter


def convert(model, vocab, spec, tokenizer="in-model", quantize="none", calibration=None,
            n_best=DEFAULT_N_BEST):
    """The TFLite flatbuffer (bytes) of `model`, and the `LiteModule` it came from.

    `calibration`: for int8, records of training text (dicts with `text`); `n_best`: a qa
    model's spans listed (`nbest_*` outputs).
    """
    check_request(spec, tokenizer, quantize)
    if quantize == "int8":
        check_int8(tokenizer, calibration)
    module = LiteModule(model, vocab, spec, tokenizer, n_best)
    if quantize == "int8":
        calibration = sample_inputs(module, calibration)
    function = module.function()
    work = tempfile.mkdtemp(prefix="tfbert-tflite-")
    try:
        tf.saved_model.save(module, work, signatures={
            "serving_default": function.get_concrete_function()})
        converter = _converter(work, module, quantize, calibration)
        # The converter's native code prints its settings to stderr.
        with held_stderr():
            if quantize == "int8":
                content = _selective_int8(converter, _converter(work, module, "none", None),
                                          module, calibration)
            else:
                content = converter.convert()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return content, module


def _selective_int8(converter, float_converter, module, calibration):
    """int8 with the `FLOAT_IN_INT8` tensors left in float (TFLite's selective
    quantization: the quantization debugger's deny list, by the float model's names)."""
    interpreter = make_interpreter(float_converter.convert(), delegates=False)
    names = [t["name"] for t in interpreter.get_tensor_details()]
    options = tf.lite.experimental.QuantizationDebugOptions(
        denylisted_nodes=[n for n in names if FLOAT_IN_INT8.search(n)])
    names_in = module.input_names()
    with warnings.catch_warnings():
        # The debugger runs TensorFlow's own (deprecated) interpreter internally; the
        # warning is about its code, not ours.
        warnings.filterwarnings("ignore", r"\s*Warning: tf\.lite\.Interpreter is deprecated")
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_options=options,
            debug_dataset=lambda: (dict(zip(names_in, sample)) for sample in calibration))
        return debugger.get_nondebug_quantized_model()


def sample_inputs(module, records):
    """Input tuples for `module`'s signature from records (dicts with `text`, `pair`,
    `question`, `context`)."""
    if module.kind == "metadata":
        encoded = module.packer([r["text"] for r in records], max_length=module.spec.max_length,
                                pad_to_max_length=True)
        return [(encoded["token_ids"][i:i + 1], encoded["padding_mask"][i:i + 1],
                 encoded["segment_ids"][i:i + 1]) for i in range(len(records))]
    keys = {"text": "text", "text_pair": "pair", "question": "question", "context": "context"}
    return [tuple(np.array([r.get(keys[n], "")], dtype=object) for n in module.input_names())
            for r in records]


def make_interpreter(model, num_threads=None, delegates=True):
    """A LiteRT interpreter for a `.tflite` path or bytes; models with tf-text custom
    ops get the tf-text registrar. `delegates=False` keeps the model's own ops (no
    XNNPACK), to inspect them."""
    from ai_edge_litert.interpreter import InterpreterWithCustomOps, OpResolverType

    content = model if isinstance(model, (bytes, bytearray)) else None
    if content is None:
        with open(os.fspath(model), "rb") as f:
            content = f.read()
    resolver = (OpResolverType.AUTO if delegates
                else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    with held_stderr():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
        interpreter = InterpreterWithCustomOps(
            model_content=bytes(content), num_threads=num_threads,
            experimental_op_resolver_type=resolver,
            custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS)
        interpreter.allocate_tensors()
    return interpreter


def run(interpreter, names, sample) -> dict:
    runner = interpreter.get_signature_runner()
    return runner(**dict(zip(names, sample)))


def compare(content, module, samples, quantize) -> float:
    """Max |TFLite - TensorFlow| over the float outputs on `samples`; raises for NaN, or
    beyond `TOLERANCE` for unquantized and fp16 variants."""
    interpreter = make_interpreter(content)
    names = module.input_names()
    worst = 0.0
    for sample in samples:
        got = run(interpreter, names, sample)
        expected = module.serve(*[tf.constant(x) for x in sample])
        for key, value in expected.items():
            value = value.numpy()
            if value.dtype.kind != "f":
                continue
            if not np.all(np.isfinite(got[key])):
                raise ValueError(f"the converted model's {key!r} is not finite (NaN/inf); "
                                 "the conversion lost the weights, nothing was written")
            worst = max(worst, float(np.max(np.abs(got[key] - value))))
    limit = TOLERANCE.get(quantize)
    if limit is not None and not worst <= limit:
        raise ValueError(f"the {quantize} TFLite model differs from TensorFlow by {worst:.3g} "
                         f"(expected <= {limit}); nothing was written")
    return worst


def float_ops(content) -> dict:
    """`{op name: count}` of the ops that still compute in float32 (their outputs are
    float32) in a quantized model."""
    interpreter = make_interpreter(content, delegates=False)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    counts = {}
    for op in interpreter._get_ops_details():  # the interpreter's only op listing
        outputs = [tensors[i] for i in op["outputs"] if i in tensors]
        if any(t["dtype"] == np.float32 for t in outputs):
            counts[op["op_name"]] = counts.get(op["op_name"], 0) + 1
    return dict(sorted(counts.items()))
