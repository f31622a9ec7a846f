"""Peak memory of streaming `tfbert predict` on a small and a large input.

Writes `--small` and `--large` lines of short real text (sentences of the built-in
en-corpus, cut to `--max-chars`, repeated), builds a tiny untrained classifier (the point is
memory, not answers), and runs `tfbert predict MODEL --input F --output O` on each in a
fresh process, reporting seconds, lines/s and the process's peak RSS (`os.wait4`'s
`ru_maxrss`). Memory is bounded if the large run's peak is no more than `--target` times
the small one's. `--json` writes the rows, the ratio and the CPU to a file as well.

    .venv/bin/python tools/bench_predict_stream.py --small 10000 --large 1000000 \\
        --json runs/bench_predict_stream.json
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time

CPU_FLAG_PREFIXES = ("avx2", "avx512", "amx")


def cpu() -> dict:
    """`lscpu`'s model name and the flags that decide TensorFlow's kernels (AVX2, AVX-512,
    AMX); /proc/cpuinfo where lscpu is missing."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        model, flags = fields.get("Model name", ""), fields.get("Flags", "")
    except (OSError, subprocess.CalledProcessError):
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            fields = {}
        model, flags = fields.get("model name", ""), fields.get("flags", "")
    return {"model": model.strip() or "unknown", "cores": os.cpu_count(),
            "flags": sorted(f for f in flags.split() if f.startswith(CPU_FLAG_PREFIXES))}


def cpu_line(found) -> str:
    """`cpu()` as one line: model, cores, flags."""
    return f"{found['model']}, {found['cores']} cores, {' '.join(found['flags'])}"


def sentences(max_chars) -> list:
    """The en-corpus's sentences, each cut to `max_chars` (at a space where there is one)."""
    from tfbert.data import builtin

    out = []
    for document in builtin.load_corpus("en-corpus"):
        for sentence in document:
            sentence = " ".join(sentence.split())
            if len(sentence) > max_chars:
                sentence = sentence[:max_chars].rsplit(" ", 1)[0]
            if sentence:
                out.append(sentence)
    return out


def write_lines(path, texts, count) -> int:
    """`count` lines cycling through `texts`; returns the bytes written."""
    with open(path, "w", encoding="utf-8") as f:
        for text in itertools.islice(itertools.cycle(texts), count):
            f.write(text + "\n")
    return os.path.getsize(path)


def vocabulary(texts, words=2000) -> list:
    """Special tokens, the commonest lowercase words, and every character alone and as a
    `##` continuation, so that every text tokenizes to real pieces."""
    from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS

    counts = collections.Counter(w for t in texts for w in t.lower().split())
    chars = sorted({c for t in texts for c in t.lower() if not c.isspace()})
    return list(dict.fromkeys(list(SPECIAL_TOKENS) + [w for w, _ in counts.most_common(words)]
                              + chars + ["##" + c for c in chars]))


def tiny_model(out, vocab) -> None:
    import keras

    from tfbert.config import BertConfig
    from tfbert.model_dir import build_model, save_model_dir
    from tfbert.task import TaskSpec

    vocab_file = os.path.join(os.path.dirname(out), "vocab.txt")
    with open(vocab_file, "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_layers=1, num_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    keras.utils.set_random_seed(0)
    spec = TaskSpec(task="classify", labels=("neg", "pos"), max_length=32)
    save_model_dir(build_model(config, spec), config, spec, out, vocab_file=vocab_file)


def run(model, source, output, batch_size, chunk_size) -> tuple:
    """Seconds and peak RSS (MB) of one `tfbert predict` process."""
    command = [sys.executable, "-m", "tfbert.cli.main", "predict", model, "--input", source,
               "--output", output, "--batch-size", str(batch_size), "--chunk-size",
               str(chunk_size)]
    # stderr into a file, not a pipe: a pipe nobody reads until the exit could fill and block.
    with open(output + ".log", "w+b") as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log,
                                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        log.seek(0)
        error = log.read().decode("utf-8", "replace")
    if status:
        raise SystemExit(f"tfbert predict failed on {source} (status {status}): {error[-600:]}")
    return elapsed, usage.ru_maxrss / 1024  # kB -> MB


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=10_000, help="lines of the small input")
    parser.add_argument("--large", type=int, default=1_000_000, help="lines of the large one")
    parser.add_argument("--max-chars", type=int, default=100, help="longest line")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--chunk-size", type=int, default=1024)
    parser.add_argument("--target", type=float, default=1.2,
                        help="the largest acceptable peak RSS ratio, large / small")
    parser.add_argument("--workdir", help="keep the inputs and outputs here (default: a "
                                          "temporary directory, removed)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    machine = cpu()
    print(f"{machine['model']}, {machine['cores']} cores; {' '.join(machine['flags'])}",
          flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        work = args.workdir or scratch
        os.makedirs(work, exist_ok=True)
        texts = sentences(args.max_chars)
        model = os.path.join(work, "model")
        if not os.path.isdir(model):
            tiny_model(model, vocabulary(texts))
        rows = []
        for name, lines in (("small", args.small), ("large", args.large)):
            source = os.path.join(work, f"{name}.txt")
            size = write_lines(source, texts, lines)
            output = os.path.join(work, f"{name}.jsonl")
            elapsed, peak = run(model, source, output, args.batch_size, args.chunk_size)
            with open(output, "rb") as f:
                answered = sum(1 for _ in f)
            if answered != lines:
                raise SystemExit(f"{output}: {answered} lines for {lines} input lines")
            rows.append({"input": name, "lines": lines, "mb": size / 1e6, "seconds": elapsed,
                         "lines_per_s": lines / elapsed, "peak_rss_mb": peak})
            print(f"{name}: {lines} lines ({size / 1e6:.1f} MB) in {elapsed:.1f} s = "
                  f"{lines / elapsed:.0f} lines/s; peak RSS {peak:.0f} MB", flush=True)
    ratio = rows[1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
    print("| input | lines | MB | seconds | lines/s | peak RSS (MB) |\n|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['input']} | {row['lines']} | {row['mb']:.1f} | {row['seconds']:.1f} | "
              f"{row['lines_per_s']:.0f} | {row['peak_rss_mb']:.0f} |")
    print(f"peak RSS large / small: {ratio:.3f} (target <= {args.target})")
    result = {"args": vars(args), "cpu": machine, "python": sys.version.split()[0],
              "rows": rows, "peak_rss_ratio": ratio, "within_target": ratio <= args.target}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["within_target"] else 1)
