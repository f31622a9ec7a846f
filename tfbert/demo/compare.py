"""The demo's last stage: the Keras model, the SavedModel and the TFLite file side by side.

Each is loaded the way its users load it (`tfbert.predict.load_predictor`: the Keras
model, the TF Serving signature, LiteRT), scores
the whole test split, times single raw texts, and classifies the recipe's sentences.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import unicodedata

from tfbert.atomic import atomic_file, write_json
from tfbert.progress import progress_bar

LATENCY_ROUNDS = 5
CHUNK = 64


def _size(path) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, f))
               for root, _, files in os.walk(path) for f in files)


def _predictions(predictor, records):
    """Predictions of `records` (label and probabilities), with a progress bar."""
    bar = progress_bar(len(records), unit_name="text")
    predictions = []
    for start in range(0, len(records), CHUNK):
        predictions += predictor.predict(records[start:start + CHUNK])
        bar.update(len(predictions))
    return predictions


def _latency_ms(predictor, records) -> float:
    """Median milliseconds of one raw text in, answer out (after one warm-up pass)."""
    for record in records:
        predictor.predict([record])
    times = []
    for _ in range(LATENCY_ROUNDS):
        for record in records:
            start = time.perf_counter()
            predictor.predict([record])
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


STUDENT_PREFIX = "student "


def compare(recipe, paths, saved_model, echo=print, student_saved_model=None,
            comparison=None) -> dict:
    from tfbert.data.readers import read_records
    from tfbert.predict import load_predictor

    test = read_records(paths.split("test"), need_labels=True)
    sentences = [{"text": s} for s in recipe.sentences]
    with open(paths.report, encoding="utf-8") as f:
        reported_keras = json.load(f)["accuracy"]
    with open(paths.quantization_report, encoding="utf-8") as f:
        variants = {v["quantize"]: v for v in json.load(f)["variants"]}
    runtimes = [("Keras model", paths.model, os.path.join(paths.model, "model.safetensors")),
                ("TF Serving SavedModel", saved_model, saved_model),
                ("TFLite int8 + metadata", paths.tflite, paths.tflite)]
    if recipe.student:
        runtimes += [
            (STUDENT_PREFIX + "Keras", paths.student,
             os.path.join(paths.student, "model.safetensors")),
            (STUDENT_PREFIX + "SavedModel", student_saved_model, student_saved_model),
            (STUDENT_PREFIX + "TFLite int8", paths.student_tflite, paths.student_tflite)]
    rows, answers = [], {}
    for name, path, weights in runtimes:
        echo(f"      {name}: scoring {len(test):,} test texts, timing single texts")
        predictor = load_predictor(path)
        predicted = _predictions(predictor, test)
        if name == "Keras model":
            keras = predicted
        correct = sum(p["label"] == r["label"] for p, r in zip(predicted, test))
        rows.append({"artifact": name, "path": path, "bytes": _size(weights),
                     "latency_ms": round(_latency_ms(predictor, sentences), 2),
                     "accuracy": 100 * correct / len(test),
                     # Text by text against the Keras model: the share given its label, and
                     # the largest change of any class's probability.
                     "agreement_with_keras": 100 * sum(
                         p["label"] == k["label"] for p, k in zip(predicted, keras)) / len(test),
                     "max_probability_change": max(
                         abs(p["probabilities"][c] - k["probabilities"][c])
                         for p, k in zip(predicted, keras) for c in k["probabilities"])})
        answers[name] = [(p["label"], p["probabilities"][p["label"]])
                         for p in predictor.predict(sentences)]
    int8 = variants["int8"]
    results = {
        "recipe": recipe.name, "dataset": recipe.dataset, "test_examples": len(test),
        "artifacts": rows,
        "sentences": [{"text": s, **{name: list(answers[name][i]) for name in answers}}
                      for i, s in enumerate(recipe.sentences)],
        # The same figures from the reports the earlier stages wrote (other code paths).
        "reported": {"keras_accuracy": 100 * reported_keras,
                     "tflite_int8_accuracy": int8["accuracy"],
                     "tflite_int8_interpreter_ms": [int8["latency_ms_1_thread"],
                                                    int8["latency_ms_2_threads"]],
                     "tflite_variants": {q: {"bytes": v["bytes"], "accuracy": v["accuracy"]}
                                         for q, v in variants.items()}}}
    if comparison:
        results["comparison"] = comparison
    if recipe.student:
        with open(paths.student_quantization_report, encoding="utf-8") as f:
            student = {v["quantize"]: v for v in json.load(f)["variants"]}["int8"]
        results["reported"]["student_tflite_int8_accuracy"] = student["accuracy"]
        results["reported"]["student_tflite_int8_interpreter_ms"] = [
            student["latency_ms_1_thread"], student["latency_ms_2_threads"]]
    for line in (table(results) + comparison_table(results)).splitlines():
        echo(line)
    return results


def _columns(text) -> int:
    """Terminal columns of `text` (wide CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text, width) -> str:
    """`text` left-aligned in `width` terminal columns."""
    return text + " " * max(0, width - _columns(text))


def table(results) -> str:
    """The results as aligned text: artifacts, then each sentence's answers."""
    lines = ["", _pad("artifact", 24) + _pad("size", 11) + _pad("latency", 11)
             + _pad(f"accuracy ({results['test_examples']:,} test)", 22) + "path"]
    for row in results["artifacts"]:
        lines.append(_pad(row["artifact"], 24) + _pad(f"{row['bytes'] / 1e6:.1f} MB", 11)
                     + _pad(f"{row['latency_ms']:.1f} ms", 11)
                     + _pad(f"{row['accuracy']:.2f} %", 22) + os.path.relpath(row["path"]))
    fast = results["reported"]["tflite_int8_interpreter_ms"]
    lines += ["", "latency: median of one raw text in, answer out (Python, tokenizer included); "
              f"the TFLite interpreter alone: {fast[0]:.1f} ms on 1 thread, {fast[1]:.1f} ms "
              "on 2"]
    student = results["reported"].get("student_tflite_int8_interpreter_ms")
    if student:
        lines.append(f"(the student's: {student[0]:.1f} ms on 1 thread, {student[1]:.1f} ms "
                     "on 2)")
    lines.append("")
    # The sentences: every artifact of the model, the student's phone file.
    names = [row["artifact"] for row in results["artifacts"]
             if not row["artifact"].startswith(STUDENT_PREFIX)
             or row["artifact"] == STUDENT_PREFIX + "TFLite int8"]
    width = max(24, max(_columns(s["text"]) for s in results["sentences"]) + 2)
    lines.append(_pad("text", width) + "".join(_pad(n.split(" +")[0], 24) for n in names))
    for sentence in results["sentences"]:
        lines.append(_pad(sentence["text"], width) + "".join(
            _pad(f"{sentence[n][0]} {sentence[n][1]:.3f}", 24) for n in names))
    return "\n".join(lines)


def comparison_table(results) -> str:
    """What pre-training bought: one row per model with test accuracy and macro-F1, then a
    sentence drawn from these numbers."""
    rows = results.get("comparison")
    if not rows:
        return ""
    width = max(_columns(row["model"]) for row in rows) + 2
    lines = ["", _pad(f"model ({results['dataset']} test, {results['test_examples']:,} texts)",
                      width) + _pad("accuracy", 12) + "macro-F1"]
    for row in rows:
        lines.append(_pad(row["model"], width) + _pad(f"{row['accuracy']:.2f} %", 12)
                     + f"{row['macro_f1']:.2f} %")
    return "\n" + "\n".join(lines + ["", verdict(rows)])


def verdict(rows) -> str:
    """One sentence, from the rows' numbers, on what pre-training bought and what not."""
    by_kind = {row["kind"]: row["accuracy"] for row in rows}
    gain = by_kind["pretrained"] - by_kind["random"]
    gap = by_kind["pretrained"] - by_kind["anchor"]
    same = "the same encoder fine-tuned from random weights"
    bought = (f"Pre-training bought {gain:+.2f} points of test accuracy over {same}"
              if gain > 0 else f"Pre-training bought nothing here: {same} scores "
              + (f"{-gain:.2f} points higher" if gain < 0 else "the same"))
    anchor = (f"it beats the TF-IDF anchor by {gap:.2f} points." if gap > 0 else
              f"it does not reach the TF-IDF anchor, {-gap:.2f} points behind." if gap < 0
              else "it ties the TF-IDF anchor.")
    return f"{bought}; {anchor}"


def write_results(results, out_dir):
    """`results.json` and `results.md` (the printed table) in `out_dir`."""
    write_json(os.path.join(out_dir, "results.json"), results)
    with atomic_file(os.path.join(out_dir, "results.md")) as staging:
        with open(staging, "w", encoding="utf-8") as f:
            f.write(f"# tfbert demo: {results['recipe']} ({results['dataset']})\n\n```\n"
                    f"{(table(results) + comparison_table(results)).strip()}\n```\n")
