"""Pre-training data throughput and peak memory on two corpus sizes.

Builds corpora of about `--small-mb` and `--large-mb` megabytes by repeating the built-in
zh-corpus and en-corpus (documents reshuffled each copy), runs `tfbert pretrain-data` on
each in a fresh process, and reports MB/s and the process's peak RSS. Memory is bounded
if the peak does not grow with the corpus. `--json` writes the rows to a file as well.

    .venv/bin/python tools/bench_pretrain_data.py --small-mb 20 --large-mb 300
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

from tfbert.data import builtin


def build_corpus(path, megabytes, seed=0):
    documents = builtin.load_corpus("zh-corpus") + builtin.load_corpus("en-corpus")
    rng = random.Random(seed)
    written = 0
    with open(path, "w", encoding="utf-8") as f:
        while written < megabytes * 1e6:
            rng.shuffle(documents)
            for document in documents:
                if written >= megabytes * 1e6:  # stop mid-copy: one copy is ~11 MB
                    break
                text = "\n".join(document) + "\n\n"
                f.write(text)
                written += len(text.encode("utf-8"))
    return written / 1e6


def run(corpus, out_dir, vocab):
    """Seconds and peak RSS (MB) of one `pretrain-data` process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "tfbert.cli.main", "pretrain-data", corpus, out_dir, "--vocab",
         vocab, "--seq-len", "128"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if status:
        raise SystemExit(f"pretrain-data failed on {corpus} (status {status})")
    return elapsed, usage.ru_maxrss / 1024  # kB -> MB


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small-mb", type=float, default=20)
    parser.add_argument("--large-mb", type=float, default=300)
    parser.add_argument("--vocab", help="vocab.txt (default: learn one on the small corpus)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        vocab = args.vocab
        rows = []
        for name, size in (("small", args.small_mb), ("large", args.large_mb)):
            corpus = os.path.join(tmp, f"{name}.txt")
            megabytes = build_corpus(corpus, size)
            if vocab is None:
                vocab = os.path.join(tmp, "vocab.txt")
                subprocess.run([sys.executable, "-m", "tfbert.cli.main", "vocab", corpus,
                                "--size", "12000", "--out", vocab], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            elapsed, peak = run(corpus, os.path.join(tmp, f"{name}-data"), vocab)
            rows.append((name, megabytes, elapsed, peak))
            print(f"{name}: {megabytes:.0f} MB in {elapsed:.0f} s = {megabytes / elapsed:.2f} "
                  f"MB/s; peak RSS {peak:.0f} MB", flush=True)
        print("| corpus | MB | seconds | MB/s | peak RSS (MB) |\n|---|---|---|---|---|")
        for name, megabytes, elapsed, peak in rows:
            print(f"| {name} | {megabytes:.0f} | {elapsed:.0f} | {megabytes / elapsed:.2f} | "
                  f"{peak:.0f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "cpus": os.cpu_count(), "rows": [
                {"corpus": name, "mb": megabytes, "seconds": elapsed,
                 "mb_per_s": megabytes / elapsed, "peak_rss_mb": peak}
                for name, megabytes, elapsed, peak in rows]}, f, indent=2)


if __name__ == "__main__":
    main()
