"""Accuracy and per-document latency of classifiers over the same test documents, through
their SavedModels (or model directories), one document per call.

The models take turns document by document, so a load that comes and goes on a shared
machine falls on all of them alike. Prints one JSON line per model: its documents, test
accuracy, and the median and 90th-percentile milliseconds per document.

    python tools/bench_longdoc.py DATA.jsonl NAME=PATH [NAME=PATH ...] [--warmup 3]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="labelled JSONL: text and label columns")
    parser.add_argument("models", nargs="+", help="NAME=PATH: a SavedModel or model directory")
    parser.add_argument("--warmup", type=int, default=3, help="documents run first, untimed")
    args = parser.parse_args(argv)

    from tfbert.predict import load_predictor

    with open(args.data, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    predictors = {}
    for item in args.models:
        name, _, path = item.partition("=")
        predictors[name] = load_predictor(path, batch_size=1)
    for predictor in predictors.values():   # traces and first-call costs, untimed
        predictor.predict([{"text": r["text"]} for r in records[:args.warmup]])
    times = {name: [] for name in predictors}
    correct = {name: 0 for name in predictors}
    for record in records:
        for name, predictor in predictors.items():
            start = time.perf_counter()
            (answer,) = predictor.predict([{"text": record["text"]}])
            times[name].append(time.perf_counter() - start)
            correct[name] += answer["label"] == record["label"]
    for name, predictor in predictors.items():
        spec = predictor.spec
        row = {"model": name, "max_length": spec.max_length,
               "window_pooling": spec.window_pooling or None,
               "doc_stride": spec.doc_stride if spec.window_pooling else None,
               "documents": len(records), "accuracy": round(correct[name] / len(records), 4),
               "median_ms": round(1000 * float(np.median(times[name])), 1),
               "p90_ms": round(1000 * float(np.percentile(times[name], 90)), 1)}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
