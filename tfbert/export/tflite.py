"""Writing `.tflite` exports and their quantization report.

`export_tflite` converts a model directory, checks the result against TensorFlow, attaches
metadata (MediaPipe) or tfbert's own packed files (in-model: `tfbert_task.json`,
`labels.txt`, read by `tfbert predict`), and writes the file atomically. With evaluation
data it also writes `FILE.quantization.{json,md}`: every quantization variant's size,
LiteRT latency (batch 1, 1 and 2 threads) and task metric against the float model.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from tfbert.atomic import atomic_file, write_json
from tfbert.data.splits import spread
from tfbert.export import tflite_convert
from tfbert.export.saved_model import load_task_model
from tfbert.export.tflite_files import LABELS_FILE, TASK_FILE, pack_files
from tfbert.export.tflite_report import (judge, latency, predicted_probabilities,
                                         report_markdown)
from tfbert.task.decoding import DEFAULT_N_BEST
from tfbert.textfile import first_line


def build_variant(model, tokenizer, spec, kind, quantize, calibration_records, samples,
                  n_best=DEFAULT_N_BEST):
    """`(content, module, max_difference)` of one checked variant, files packed."""
    content, module = tflite_convert.convert(model, tokenizer.vocab, spec, kind, quantize,
                                             calibration_records, n_best)
    difference = tflite_convert.compare(
        content, module, tflite_convert.sample_inputs(module, samples), quantize)
    if kind == "metadata":
        import tempfile

        from tfbert.export.tflite_metadata import add_bert_classifier_metadata

        with tempfile.TemporaryDirectory(prefix="tfbert-vocab-") as work:
            vocab = os.path.join(work, "vocab.txt")
            with open(vocab, "w", encoding="utf-8") as f:
                f.writelines(token + "\n" for token in tokenizer.vocab)
            content = add_bert_classifier_metadata(content, vocab, list(spec.labels),
                                                   spec.lowercase, spec.max_length)
    else:
        content = pack_files(content, {
            TASK_FILE: json.dumps(spec.to_dict(), indent=2),
            LABELS_FILE: "".join(label + "\n" for label in spec.labels)})
    return content, module, difference


def _check_out(out):
    if not str(out).endswith(".tflite"):
        raise ValueError(f"--out must name a .tflite file. Received: {out!r}")
    parent = os.path.dirname(os.path.abspath(out))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{parent}: cannot create the output directory ({err.strerror})") \
            from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{parent}: not writable; choose another --out")


def export_tflite(model_dir, out, quantize="none", tokenizer="in-model", calibration=None,
                  evaluation=None, calibration_size=200, latency_runs=20,
                  progress=False, n_best=DEFAULT_N_BEST) -> dict:
    """Exports `model_dir` to `out` (a `.tflite` file); returns what was measured.

    `calibration`: records of training text (int8 needs at least `MIN_CALIBRATION`);
    `evaluation`: labelled records; with them a quantization report is written beside
    `out`, covering every variant of this tokenizer kind (`progress`: a bar per variant).
    `n_best`: a qa model's spans listed per question.
    """
    from tfbert.backends import require_tensorflow_backend

    require_tensorflow_backend("tfbert export --format tflite")
    if isinstance(n_best, bool) or not isinstance(n_best, int) or n_best < 1:
        raise ValueError(f"--n-best must be a positive integer. Received: {n_best!r}")
    _check_out(out)
    model, tok, spec, _ = load_task_model(model_dir)
    tflite_convert.check_request(spec, tokenizer, quantize)
    calibration = spread(calibration or [], calibration_size) or None
    if quantize == "int8":
        tflite_convert.check_int8(tokenizer, calibration)
    if evaluation:
        _check_evaluation(spec, evaluation)
    # Records fit for the comparison only when they carry the task's inputs.
    fields = {"pair": ("text", "pair"), "qa": ("question", "context")}.get(spec.task, ("text",))
    usable = [r for r in (calibration or evaluation or [])
              if all(isinstance(r.get(f), str) for f in fields)]
    samples = spread(usable, 8) or _default_samples(spec)
    try:
        content, module, difference = build_variant(model, tok, spec, tokenizer, quantize,
                                                    calibration, samples, n_best)
    except tf.errors.OpError as err:
        # The converter works through a temporary SavedModel: a full disk or a size limit
        # surfaces there, far from the file the user asked for.
        raise OSError(f"{os.path.abspath(out)}: not written; the conversion failed "
                      f"({first_line(err)[:200]})") from None
    result = {"file": os.path.abspath(out), "bytes": len(content), "quantize": quantize,
              "tokenizer": tokenizer, "max_abs_difference_vs_tensorflow": difference}
    if quantize == "int8":
        result["float_ops"] = tflite_convert.float_ops(content)
    report = None
    if evaluation:
        report = quantization_report(
            model, tok, spec, tokenizer, calibration, evaluation, samples, latency_runs,
            built={quantize: (content, module, difference)}, progress=progress)
        result["report"] = report
    # Written last, each atomically: a failure above leaves every file as it was.
    with atomic_file(out) as staging:
        with open(staging, "wb") as f:
            f.write(content)
    if report is not None:
        stem = os.path.splitext(out)[0]
        write_json(stem + ".quantization.json", report)
        with atomic_file(stem + ".quantization.md") as staging:
            with open(staging, "w", encoding="utf-8") as f:
                f.write(report_markdown(report))
        # The exported variant's reliability diagram.
        from tfbert.evaluation import plot_reliability_diagram

        exported = next(v for v in report["variants"] if v["quantize"] == quantize)
        plot_reliability_diagram(exported["reliability"], stem + ".quantization_reliability.png",
                                 exported["ece"])
    return result


def _check_evaluation(spec, evaluation):
    if spec.task not in ("classify", "pair"):
        raise ValueError(f"--eval-data: the quantization report scores classify and pair "
                         f"models. Received a {spec.task!r} model")
    if spec.multi_label:
        raise ValueError("--eval-data: the quantization report scores single-label "
                         "classifiers; score a multi-label model's export with "
                         "`tfbert evaluate` on its model directory and `tfbert predict` on "
                         "the .tflite file")
    for record in evaluation:
        if record["label"] not in spec.labels:
            where = record.get("where", "--eval-data")
            raise ValueError(f"{where}: label {record['label']!r} is not one of the model's "
                             f"labels {list(spec.labels)}")
    if spec.task == "pair" and not all(isinstance(r.get("pair"), str) for r in evaluation):
        raise ValueError("--eval-data: a pair model needs a second-text column "
                         "(--pair-column)")


def _default_samples(spec):
    texts = ["tfbert checks every conversion.", "我爱北京天安门。", "A second, longer "
             "sentence with punctuation, numbers (3.14) and CAPITALS!"]
    return [{"text": t, "pair": t[::-1], "question": "what is checked?", "context": t}
            for t in texts]


def quantization_report(model, tok, spec, kind, calibration, evaluation, samples,
                        latency_runs=20, built=None, progress=False) -> dict:
    """Scores every quantization variant on `evaluation` (labelled records).
    `built`: `{quantize: build_variant(...)}` of variants already converted."""
    from tfbert.evaluation import (classification_metrics, expected_calibration_error,
                                   reliability_bins)

    labels = list(spec.labels)
    truth = [labels.index(r["label"]) for r in evaluation]
    # Latency on a real text, padded to the model's length (batch 1).
    longest = max(evaluation, key=lambda r: len(r["text"]))
    variants = []
    for quantize in tflite_convert.QUANTIZE:
        if quantize == "int8" and (kind == "in-model" or not calibration
                                   or len(calibration) < tflite_convert.MIN_CALIBRATION):
            continue
        content, module, difference = (built or {}).get(quantize) or build_variant(
            model, tok, spec, kind, quantize, calibration, samples)
        sample = tflite_convert.sample_inputs(module, [longest])[0]
        if progress:
            print(f"scoring the {quantize} variant on {len(evaluation)} examples", flush=True)
        probabilities = predicted_probabilities(content, module, evaluation, progress)
        metrics = classification_metrics(truth, probabilities.argmax(-1).tolist(), labels)
        variants.append({
            "quantize": quantize, "bytes": len(content),
            "latency_ms_1_thread": latency(content, module.input_names(), sample, 1,
                                           latency_runs),
            "latency_ms_2_threads": latency(content, module.input_names(), sample, 2,
                                            latency_runs),
            "accuracy": 100 * metrics["accuracy"], "macro_f1": 100 * metrics["macro_f1"],
            "ece": expected_calibration_error(probabilities, truth),
            "reliability": reliability_bins(probabilities, truth),
            "max_abs_difference_vs_tensorflow": difference,
            "float_ops": tflite_convert.float_ops(content) if quantize == "int8" else None})
    return judge({"model_task": spec.task, "tokenizer": kind, "max_length": spec.max_length,
                  "evaluation_examples": len(evaluation), "variants": variants})


