"""Peak memory and speed of `tfbert finetune` on a task file read into memory vs the same
file as `tfbert features` shards (streamed), measured in the same run.

A built-in classification dataset's train split is repeated `--repeat` times into one
JSONL file; `tfbert features` encodes it once, then `finetune` runs `--max-steps` steps on
the file and on the shards (tiny preset, MiniLM's vocabulary), each in its own process.
Per process: wall time and peak RSS (the kernel's `ru_maxrss` of that child); per run the
steps/s of the training loop from `history.json`, the first log window (tracing) left out.

    .venv/bin/python tools/bench_features.py --dataset tweets --repeat 10 --max-steps 60
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def run(command, env) -> dict:
    """Runs `command`; its wall seconds and peak resident memory (MiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return {"seconds": time.perf_counter() - started, "peak_rss_mib": usage.ru_maxrss / 1024}


def steps_per_second(model_dir, batch_size) -> float:
    """The loop's speed after its first log window (which holds the tracing)."""
    with open(os.path.join(model_dir, "history.json"), encoding="utf-8") as f:
        rows = [r for r in json.load(f) if "examples_per_second" in r][1:]
    return sum(r["examples_per_second"] for r in rows) / len(rows) / batch_size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="tweets")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--max-steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--work", default="runs/bench_features")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    tfbert = [sys.executable, "-m", "tfbert.cli.main"]
    data = os.path.join(args.work, args.dataset)
    if not os.path.isfile(os.path.join(data, "train.jsonl")):
        subprocess.run(tfbert + ["datasets", "export", args.dataset, data], check=True, env=env)
    big = os.path.join(args.work, f"train-x{args.repeat}.jsonl")
    with open(os.path.join(data, "train.jsonl"), encoding="utf-8") as f:
        lines = f.readlines()
    with open(big, "w", encoding="utf-8") as f:
        for _ in range(args.repeat):
            f.writelines(lines)
    import tfbert as api

    vocab = os.path.join(api.checkpoint_path("all-MiniLM-L6-v2"), "vocab.txt")
    features = os.path.join(args.work, f"features-x{args.repeat}")
    common = ["--max-length", str(args.max_length)]
    figures = {"rows": len(lines) * args.repeat, "file_mib": os.path.getsize(big) / 2 ** 20}
    if not os.path.isfile(os.path.join(features, "manifest.json")):
        figures["features"] = run(tfbert + ["features", big, features, "--task", "classify",
                                            "--vocab", vocab] + common, env)
    train = ["--task", "classify", "--preset", "tiny", "--vocab", vocab, "--max-steps",
             str(args.max_steps), "--batch-size", str(args.batch_size), "--log-every", "10",
             "--keep-checkpoints", "1"] + common
    for name, source in (("in_memory", big), ("streamed", features)):
        out = os.path.join(args.work, f"run-{name}")
        subprocess.run(["rm", "-rf", out], check=True)
        figures[name] = run(tfbert + ["finetune", "--train", source, "--out", out] + train,
                            env)
        figures[name]["steps_per_second"] = steps_per_second(out, args.batch_size)
    print(json.dumps(figures, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
