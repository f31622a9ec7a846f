"""The quantization report of a TFLite export: every variant's size, latency and accuracy
against the float one, and which are recommended (`tfbert export --eval-data`)."""

from __future__ import annotations

import statistics
import time

import numpy as np

from tfbert.export import tflite_convert
from tfbert.progress import progress_bar

MAX_LOSS = 1.0  # accuracy points a recommended variant may lose against float


def latency(content, names, sample, threads, runs):
    """Median milliseconds of `runs` calls (after two warm-up calls)."""
    interpreter = tflite_convert.make_interpreter(content, num_threads=threads)
    runner = interpreter.get_signature_runner()
    inputs = dict(zip(names, sample))
    for _ in range(2):
        runner(**inputs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner(**inputs)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def predicted_probabilities(content, module, records, progress=False) -> np.ndarray:
    """`(records, classes)`: the class probabilities the `.tflite` model gives each record
    (its temperature applied in the graph, as on a phone)."""
    interpreter = tflite_convert.make_interpreter(content, num_threads=2)
    names = module.input_names()
    rows = []
    bar = progress_bar(len(records), progress, unit_name="example")
    for sample in tflite_convert.sample_inputs(module, records):
        probabilities = list(tflite_convert.run(interpreter, names, sample).values())[0]
        rows.append(np.asarray(probabilities, np.float64).reshape(-1))
        bar.update(len(rows))
    return np.stack(rows)


def judge(report) -> dict:
    """Adds each variant's size and accuracy against the float (first) variant, and
    whether it is recommended (loses at most `MAX_LOSS` points)."""
    variants = report["variants"]
    base = variants[0]
    for variant in variants:
        variant["size_vs_float"] = variant["bytes"] / base["bytes"]
        variant["accuracy_change"] = variant["accuracy"] - base["accuracy"]
        variant["recommended"] = variant["accuracy_change"] >= -MAX_LOSS
    report["rule"] = (f"a variant losing more than {MAX_LOSS} accuracy point against the "
                      "float (none) variant is flagged and not recommended")
    return report


def report_markdown(report) -> str:
    lines = [f"# Quantization report ({report['model_task']}, tokenizer {report['tokenizer']}, "
             f"length {report['max_length']}, {report['evaluation_examples']} examples)", "",
             "| variant | size MB | vs float | ms 1 thread | ms 2 threads | accuracy | "
             "change | macro-F1 | ECE | recommended |", "|---|---|---|---|---|---|---|---|---|---|"]
    for v in report["variants"]:
        lines.append(
            f"| {v['quantize']} | {v['bytes'] / 1e6:.2f} | {100 * v['size_vs_float']:.0f} % | "
            f"{v['latency_ms_1_thread']:.1f} | {v['latency_ms_2_threads']:.1f} | "
            f"{v['accuracy']:.2f} | {v['accuracy_change']:+.2f} | {v['macro_f1']:.2f} | "
            f"{v['ece']:.4f} | {'yes' if v['recommended'] else '**no** (loses > 1 point)'} |")
    int8 = [v for v in report["variants"] if v["float_ops"]]
    if int8:
        ops = ", ".join(f"{k} ×{n}" for k, n in int8[0]["float_ops"].items())
        lines += ["", f"Ops that stay float in int8: {ops}."]
    lines += ["", report["rule"] + ". ECE: expected calibration error of the variant's "
              "probabilities (15 equal-width confidence bins)."]
    return "\n".join(lines) + "\n"
