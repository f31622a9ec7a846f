"""`pretrain-data` on Apache Beam's DirectRunner (1 and 2 worker processes) against the
single process, on the same corpus in the same run, and each process's peak RSS on two
corpus sizes.

For each corpus size (`--sizes`, MB of the built-in zh-corpus and en-corpus repeated, as
tools/bench_pretrain_data.py builds them) each configuration runs `--rounds` times in a
fresh process, the configurations taking turns; a round's seconds are the whole command
(start-up included). Peak RSS is sampled from /proc (VmHWM, the kernel's own high-water
mark) for the command and every process it starts, so a worker's peak is its own. The
target: 2 workers >= 1.6x the single process's MB/s, and a worker's peak RSS flat in the
corpus size. `--json FILE` writes every round.

    .venv/bin/python tools/bench_beam_pretrain_data.py --sizes 20 80 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.bench_pretrain_data import build_corpus  # noqa: E402 - run as a script too

CONFIGS = {"single process": [],
           "beam direct, 1 worker": ["--runner", "direct", "--num-workers", "1"],
           "beam direct, 2 workers": ["--runner", "direct", "--num-workers", "2"]}


def _children(pid) -> set:
    """Every live descendant of `pid`."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parents[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _peak_kb(pid) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def run(command) -> tuple:
    """`(seconds, driver peak MB, largest other process's peak MB)` of one command."""
    peaks, done = {}, threading.Event()
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def sample():
        while not done.is_set():
            for pid in _children(process.pid) | {process.pid}:
                kb = _peak_kb(pid)
                if kb:
                    peaks[pid] = max(peaks.get(pid, 0), kb)
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed: {stderr.decode()[-800:]}")
    driver = peaks.pop(process.pid, 0) / 1024
    return elapsed, driver, max(peaks.values(), default=0) / 1024


def cpu() -> dict:
    model, flags = "", []
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = [x for x in line.split(":", 1)[1].split()
                         if x.startswith(("avx", "amx"))]
    return {"model": model, "flags": flags, "cpus": os.cpu_count()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[20, 80])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--split-mb", type=float, default=4,
                        help="the Beam runs' --split-mb (ranges to share between workers)")
    parser.add_argument("--json", help="write every round to this file")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        vocab = None
        for size in args.sizes:
            corpus = os.path.join(tmp, f"corpus-{size:g}.txt")
            megabytes = build_corpus(corpus, size)
            if vocab is None:
                vocab = os.path.join(tmp, "vocab.txt")
                subprocess.run([sys.executable, "-m", "tfbert.cli.main", "vocab", corpus,
                                "--size", "12000", "--out", vocab], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for round_ in range(args.rounds):
                for name, flags in CONFIGS.items():
                    out = os.path.join(tmp, f"out-{size:g}-{round_}-{len(flags)}-{name[-9:]}")
                    extra = ["--split-mb", str(args.split_mb)] if flags else []
                    seconds, driver, worker = run(
                        [sys.executable, "-m", "tfbert.cli.main", "pretrain-data", corpus, out,
                         "--vocab", vocab, "--seq-len", "128", *flags, *extra])
                    rows.append({"config": name, "mb": megabytes, "round": round_,
                                 "seconds": seconds, "mb_per_s": megabytes / seconds,
                                 "driver_peak_mb": driver, "worker_peak_mb": worker})
                    print(f"{megabytes:.0f} MB, {name}, round {round_}: {seconds:.1f} s, "
                          f"{megabytes / seconds:.2f} MB/s, peak RSS driver {driver:.0f} MB, "
                          f"worker {worker:.0f} MB", flush=True)
                    subprocess.run(["rm", "-rf", out], check=True)
    print("\n| corpus MB | configuration | median MB/s | x single process | peak RSS MB "
          "(driver / largest worker) |\n|---|---|---|---|---|")
    summary = []
    for size in sorted({r["mb"] for r in rows}):
        medians = {name: statistics.median(r["mb_per_s"] for r in rows
                                           if r["mb"] == size and r["config"] == name)
                   for name in CONFIGS}
        for name in CONFIGS:
            mine = [r for r in rows if r["mb"] == size and r["config"] == name]
            driver = max(r["driver_peak_mb"] for r in mine)
            worker = max(r["worker_peak_mb"] for r in mine)
            ratio = medians[name] / medians["single process"]
            summary.append({"mb": size, "config": name, "median_mb_per_s": medians[name],
                            "ratio": ratio, "driver_peak_mb": driver, "worker_peak_mb": worker})
            print(f"| {size:.0f} | {name} | {medians[name]:.2f} | {ratio:.2f} | "
                  f"{driver:.0f} / {worker:.0f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "cpu": cpu(), "rows": rows, "summary": summary}, f,
                      indent=2)


if __name__ == "__main__":
    main()
