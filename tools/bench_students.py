"""Teacher and students on one table: parameters, TFLite sizes, LiteRT latency, test score,
agreement with the teacher (issue 21's report).

For each model directory (the teacher first) it writes the phone files `tfbert export`
writes — classify: `--tokenizer metadata` (MediaPipe-ready, vocabulary and labels inside)
in `int8` (calibrated on `--calibration` texts) and `dynamic`; ner: `--tokenizer in-model`
in `dynamic` and `none` — and, for classifiers, the quantization report of `tfbert export
--eval-data` over `--test`. It scores the Keras model on `--test` (accuracy, or entity F1),
and how often its predictions equal the teacher's. Then it times batch-1 LiteRT calls of
every file at 1 and 2 threads on the longest test input, padded to the model's length:
`--rounds` rounds, each timing every file in turn (`--calls` calls after 3 warm-up ones), so
drift on a shared host hits all alike; the figure is the median of the round medians, and
`x teacher` is the teacher's `dynamic` time over it (same threads, same run).

    .venv/bin/python tools/bench_students.py --teacher runs/d21/teacher \\
        --student L4-H128=runs/d21/student --test bbc/test.jsonl \\
        --calibration bbc/train.jsonl --out runs/d21/report
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def cpu() -> dict:
    """The CPU model and the flags that matter to these kernels."""
    name, flags = platform.processor(), []
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    break
    except OSError:
        pass
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "fma")
    return {"model": name, "cores": os.cpu_count(), "flags": [f for f in wanted if f in flags]}


def keras_scores(model_dir, test_path):
    """`(model, tokenizer, spec, config, metrics, predicted ids per scored item)` of the
    Keras model on `test_path`."""
    from tfbert.export.saved_model import load_task_model
    from tfbert.training import scoring, tasks

    model, tokenizer, spec, checkpoint = load_task_model(model_dir)
    data = tasks.load_task_data(spec.task, test_path, tokenizer, list(spec.labels),
                                spec.max_length, doc_stride=spec.doc_stride)
    outputs = scoring.model_outputs(model, data.inputs)
    metrics = scoring.score(spec.task, list(spec.labels), outputs, data,
                            tag_scheme=spec.tag_scheme)
    predicted = outputs["logits"].argmax(-1)
    if spec.task == "ner":
        predicted = predicted[data.targets["labels"] >= 0]
    return model, tokenizer, spec, checkpoint.config, metrics, predicted


def export_files(name, model_dir, spec, out_dir, calibration, test):
    """`{variant: path}` of the phone files, and the quantization report (classify)."""
    from tfbert.export import tflite

    files, report = {}, None
    if spec.task == "classify":
        kind, variants = "metadata", ("int8", "dynamic")
    else:
        kind, variants = "in-model", ("dynamic", "none")
    for variant in variants:
        path = os.path.join(out_dir, f"{name}-{variant}.tflite")
        evaluation = test if (variant == variants[0] and spec.task == "classify") else None
        result = tflite.export_tflite(model_dir, path, variant, kind, calibration=calibration,
                                      evaluation=evaluation, latency_runs=5)
        files[variant] = path
        report = result.get("report", report)
    return kind, files, report


def time_files(entries, sample_for, rounds, calls, threads):
    """`{(name, variant): median of round medians, ms}`: every file timed in turn per round."""
    from tfbert.export import tflite_convert

    runners = {}
    for key, path in entries.items():
        interpreter = tflite_convert.make_interpreter(path, num_threads=threads)
        runner = interpreter.get_signature_runner()
        inputs = sample_for[key]
        for _ in range(3):
            runner(**inputs)
        runners[key] = (interpreter, runner, inputs)
    medians = {key: [] for key in entries}
    for _ in range(rounds):
        for key, (_, runner, inputs) in runners.items():
            times = []
            for _ in range(calls):
                start = time.perf_counter()
                runner(**inputs)
                times.append((time.perf_counter() - start) * 1e3)
            medians[key].append(statistics.median(times))
    return {key: statistics.median(values) for key, values in medians.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--student", action="append", default=[],
                        help="NAME=MODEL_DIR (repeatable)")
    parser.add_argument("--test", required=True, help="labelled test data (the task's format)")
    parser.add_argument("--calibration", help="training data for int8 calibration (classify)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args(argv)

    from tfbert.data.readers import read_conll, read_records
    from tfbert.export import tflite_convert
    from tfbert.export.tflite_graph import LiteModule
    from tfbert.model_dir import encoder_parameters

    os.makedirs(args.out, exist_ok=True)
    models = [("teacher", args.teacher)] + [tuple(s.split("=", 1)) for s in args.student]
    rows, teacher_predictions, files, samples = [], None, {}, {}
    for name, model_dir in models:
        model, tok, spec, config, metrics, predicted = keras_scores(model_dir, args.test)
        if teacher_predictions is None:
            teacher_predictions = predicted
        test = read_records(args.test, need_labels=True) if spec.task == "classify" else None
        calibration = read_records(args.calibration) if args.calibration and \
            spec.task == "classify" else None
        kind, paths, report = export_files(name, model_dir, spec, args.out, calibration, test)
        metric = "accuracy" if spec.task == "classify" else "f1"
        row = {"model": name, "path": os.path.abspath(model_dir), "task": spec.task,
               "layers": config.num_layers, "hidden_size": config.hidden_size,
               "vocab_size": config.vocab_size, "max_length": spec.max_length,
               "parameters": encoder_parameters(config), "tokenizer": kind,
               "metric": metric, "keras": 100 * metrics[metric],
               "agreement": 100 * float((predicted == teacher_predictions).mean()),
               "bytes": {v: os.path.getsize(p) for v, p in paths.items()}}
        if report:
            row["quantization_report"] = report
            row["tflite"] = {v["quantize"]: {"accuracy": v["accuracy"],
                                             "macro_f1": v["macro_f1"]}
                             for v in report["variants"]}
        if spec.task == "ner":
            row["entity_scores"] = {k: v for k, v in metrics.items() if isinstance(v, float)}
        rows.append(row)
        # The longest test input, padded to the model's length, for the timing.
        records = test or [{"text": " ".join(words)} for words, _ in read_conll(args.test)]
        longest = max(records, key=lambda r: len(r["text"]))
        module = LiteModule(model, tok.vocab, spec, kind)
        inputs = dict(zip(module.input_names(), tflite_convert.sample_inputs(module, [longest])[0]))
        for variant, path in paths.items():
            files[(name, variant)] = path
            samples[(name, variant)] = inputs
    timing = {}
    for threads in (1, 2):
        timing[threads] = time_files(files, samples, args.rounds, args.calls, threads)
    base = {t: timing[t][("teacher", "dynamic")] for t in (1, 2)}
    for row in rows:
        row["latency_ms"] = {f"{v}_{t}_thread{'s' if t > 1 else ''}": timing[t][(row["model"], v)]
                             for t in (1, 2) for v in row["bytes"]}
        row["speedup_vs_teacher_dynamic"] = {
            f"{v}_{t}_thread{'s' if t > 1 else ''}": base[t] / timing[t][(row["model"], v)]
            for t in (1, 2) for v in row["bytes"]}
    result = {"cpu": cpu(), "test": os.path.abspath(args.test), "rounds": args.rounds,
              "calls": args.calls, "models": rows}
    with open(os.path.join(args.out, "students.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    with open(os.path.join(args.out, "students.md"), "w", encoding="utf-8") as f:
        f.write(markdown(result))
    print(markdown(result))


def markdown(result) -> str:
    rows = result["models"]
    first = rows[0]["bytes"]
    main_variant = next(iter(first))
    lines = [f"CPU: {result['cpu']['model']} ({result['cpu']['cores']} cores; "
             f"{', '.join(result['cpu']['flags'])}); LiteRT batch 1, median of "
             f"{result['rounds']} round medians of {result['calls']} calls", "",
             "| model | layers × hidden | vocab | parameters | "
             + " | ".join(f"{v} MB" for v in first)
             + " | " + " | ".join(f"{v} ms 1 / 2 threads" for v in first)
             + f" | {main_variant} speed-up over the teacher's dynamic (1 / 2 threads)"
             + f" | test {rows[0]['metric']} Keras"
             + (" | int8 accuracy" if "int8" in first else "")
             + " | agreement with the teacher |",
             "|" + "---|" * (4 + 2 * len(first) + 2 + ("int8" in first) + 1)]
    for row in rows:
        sizes = " | ".join(f"{row['bytes'][v] / 1e6:.2f}" for v in first)
        times = " | ".join(f"{row['latency_ms'][v + '_1_thread']:.1f} / "
                           f"{row['latency_ms'][v + '_2_threads']:.1f}" for v in first)
        speed = row["speedup_vs_teacher_dynamic"]
        line = (f"| {row['model']} | {row['layers']} × {row['hidden_size']} | "
                f"{row['vocab_size']:,} | {row['parameters']:,} | {sizes} | {times} | "
                f"{speed[main_variant + '_1_thread']:.1f}× / "
                f"{speed[main_variant + '_2_threads']:.1f}× | {row['keras']:.2f}")
        if "int8" in first:
            line += f" | {row['tflite']['int8']['accuracy']:.2f}"
        line += f" | {row['agreement']:.2f} % |"
        lines.append(line)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
