"""Start-up time: `tfbert --help`, `--version` and a command's `--help` against `import
tensorflow`, each in a fresh process; median of `--runs` runs taken in turns.

The anchor is `python -c "import tensorflow"`: what every tfbert command paid before
commands loaded on demand. `tfbert` is the console script beside the interpreter (or
`python -m tfbert.cli.main` without one). `--warmup` untimed rounds fill the file cache
first. `--json` writes every run's seconds, the CPU and its flags to a file as well.

    .venv/bin/python tools/bench_startup.py --json runs/bench_startup.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ANCHOR = "import tensorflow"
FLAGS = ("avx512f", "avx512_bf16", "amx_tile")


def tfbert_command() -> list:
    script = os.path.join(os.path.dirname(sys.executable), "tfbert")
    return [script] if os.access(script, os.X_OK) else [sys.executable, "-m",
                                                          "tfbert.cli.main"]


def commands() -> dict:
    """Label -> argv, the anchor first."""
    tfbert = tfbert_command()
    return {ANCHOR: [sys.executable, "-c", "import tensorflow"],
            "import tfbert": [sys.executable, "-c", "import tfbert"],
            "tfbert --help": tfbert + ["--help"],
            "tfbert --version": tfbert + ["--version"],
            "tfbert finetune --help": tfbert + ["finetune", "--help"]}


def cpu() -> dict:
    """The CPU model and whether it has the flags that decide TensorFlow's kernels."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            text = f.read()
    except OSError:  # not Linux
        return {"model": "unknown", "cores": os.cpu_count(), "flags": {}}

    def field(key):
        return next((line.split(":", 1)[1].strip() for line in text.splitlines()
                     if line.startswith(key)), "")

    flags = set(field("flags").split())
    return {"model": field("model name") or "unknown", "cores": os.cpu_count(),
            "flags": {flag: flag in flags for flag in FLAGS}}


def seconds(argv) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed (exit {done.returncode}): "
                         f"{done.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def measure(argvs: dict, runs: int, warmup: int) -> dict:
    """Label -> every run's seconds; the commands take turns, so a slower minute of the
    machine falls on all of them."""
    times = {label: [] for label in argvs}
    for round_number in range(warmup + runs):
        for label, argv in argvs.items():
            elapsed = seconds(argv)
            if round_number >= warmup:
                times[label].append(elapsed)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error(f"--runs must be >= 1 and --warmup >= 0. Received: --runs {args.runs}, "
                     f"--warmup {args.warmup}")

    machine = cpu()
    flags = ", ".join(f"{f} {'yes' if on else 'no'}" for f, on in machine["flags"].items())
    print(f"{machine['model']}, {machine['cores']} cores; {flags}; Python "
          f"{sys.version.split()[0]}; {args.runs} runs each, in turns")
    argvs = commands()
    times = measure(argvs, args.runs, args.warmup)
    anchor = statistics.median(times[ANCHOR])
    rows = []
    print(f"| command | s, median of {args.runs} | spread | x {ANCHOR} |")
    print("|---|---|---|---|")
    for label, values in times.items():
        median = statistics.median(values)
        rows.append({"command": label, "argv": argvs[label], "seconds": values,
                     "median_s": median, "spread_s": max(values) - min(values),
                     "vs_anchor": median / anchor})
        print(f"| {label} | {median:.3f} | {max(values) - min(values):.3f} | "
              f"{median / anchor:.2f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "cpu": machine, "anchor": ANCHOR, "rows": rows}, f,
                      indent=2)


if __name__ == "__main__":
    main()
