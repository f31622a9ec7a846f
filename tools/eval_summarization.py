"""Extractive summaries of BBC News test articles scored by ROUGE against their headlines.

Each bbc-news test text (`tfbert.data.builtin.load_classification`) is a headline line and
the article's paragraphs; the article (without its headline) is summarised by
`tfbert.Summarizer` for each `--sentences` K and each `--diversity`, and by the lead-K
baseline (its first K sentences, `split_sentences`). ROUGE-1/2 F1 and recall and ROUGE-L
F1 (`tfbert.evaluation.rouge`, no stemming) against the headline, averaged over articles,
go to a Markdown table on stdout and, with `--json`, to a file.

A headline is a short abstract, not an extract: recall grows with K and F1 shrinks, so
compare rows of the same K.

    .venv/bin/python tools/eval_summarization.py --json /tmp/summarization.json
    .venv/bin/python tools/eval_summarization.py --limit 20          # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.bench_predict_stream import cpu, cpu_line  # noqa: E402 - run as a script too

METRICS = (("rouge1", "f1"), ("rouge1", "recall"), ("rouge2", "f1"), ("rouge2", "recall"),
           ("rougeL", "f1"))


def articles(limit=None) -> list:
    """`(headline, document)` of the bbc-news test split, in its order."""
    from tfbert.data.builtin import load_classification

    splits, _, _ = load_classification("bbc-news")
    pairs = [tuple(text.split("\n", 1)) for text, _ in splits["test"]]
    pairs = [(headline, body) for headline, body in pairs if body.strip()]
    return pairs[:limit] if limit else pairs


def average(summaries, headlines) -> dict:
    """Mean of each `METRICS` score of `summaries` against `headlines`."""
    from tfbert.evaluation.rouge import rouge

    scores = [rouge(s, h) for s, h in zip(summaries, headlines)]
    return {f"{kind}_{part}": sum(x[kind][part] for x in scores) / len(scores)
            for kind, part in METRICS}


def evaluate(model, sentences, diversities, limit=None, batch_size=32) -> dict:
    from tfbert.applications.summarizer import Summarizer
    from tfbert.tokenization.sentences import split_sentences

    pairs = articles(limit)
    headlines = [h for h, _ in pairs]
    documents = [d for _, d in pairs]
    started = time.perf_counter()
    summarizer = Summarizer.from_pretrained(model, batch_size=batch_size)
    rows = []
    for k in sentences:
        lead = [" ".join(s.text for s in split_sentences(d)[:k]) for d in documents]
        rows.append({"method": f"lead-{k}", "sentences": k, **average(lead, headlines)})
        for diversity in diversities:
            answers = summarizer(documents, sentences=k, diversity=diversity)
            rows.append({"method": f"MMR diversity {diversity}", "sentences": k,
                         **average([a["summary"] for a in answers], headlines)})
    return {"model": model, "articles": len(pairs), "cpu": cpu(),
            "seconds": round(time.perf_counter() - started, 1), "rows": rows}


def markdown(result) -> str:
    header = ["K", "method", "ROUGE-1 F1", "ROUGE-1 R", "ROUGE-2 F1", "ROUGE-2 R", "ROUGE-L F1"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in result["rows"]:
        cells = [str(row["sentences"]), row["method"]]
        cells += [f"{100 * row[f'{kind}_{part}']:.1f}" for kind, part in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--sentences", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--diversity", type=float, nargs="+", default=[0.3])
    parser.add_argument("--limit", type=int, help="Only the first N test articles.")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", help="Write the result here too.")
    args = parser.parse_args(argv)
    result = evaluate(args.model, args.sentences, args.diversity, args.limit, args.batch_size)
    print(f"{result['articles']} bbc-news test articles, {result['model']}, "
          f"CPU: {cpu_line(result['cpu'])}, {result['seconds']} s")
    print(markdown(result))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
