"""Regenerates BENCHMARKS.md from the project's benchmark scripts in tools/.

Each script runs in turn (never two at once: they time the same cores) as a subprocess
with `--json` into `--results` (NAME.json, its output in NAME.log); `run.json` there keeps
the machine and how, when and under what load each was run. The Markdown is rendered from
those files alone, so `--render-only` rebuilds it without measuring and every figure in it
comes from a JSON file: ratios are each row's to an anchor measured in the same run.

    .venv/bin/python tools/benchmarks.py                      # everything: ~30 min on 2 cores
    .venv/bin/python tools/benchmarks.py --only export        # rerun one, keep the rest
    .venv/bin/python tools/benchmarks.py --quick --output /tmp/BENCHMARKS.md   # smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys
import time

from tfbert.atomic import atomic_file, write_json

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = ".venv/bin/python"  # how commands are shown: the interpreter `make venv` creates
DEMO_MODEL = "runs/demo-en/model"  # what `tfbert demo --english` fine-tunes
DEMO_EVAL = "runs/demo-en/data/bbc-news/test.jsonl"
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
VERSIONS = {"TensorFlow": ("tensorflow", "tensorflow-cpu"), "tf-text": ("tensorflow-text",),
            "Keras": ("keras",), "keras-hub": ("keras-hub",), "LiteRT": ("ai-edge-litert",),
            "ONNX Runtime": ("onnxruntime",), "tf2onnx": ("tf2onnx",),
            "tokenizers": ("tokenizers",)}


@dataclasses.dataclass(frozen=True)
class Benchmark:
    script: str
    title: str
    full: tuple = ()  # settings of the published run (the script's defaults where empty)
    quick: tuple = ()  # seconds-long settings, enough to check the pipeline end to end


BENCHMARKS = {
    "training": Benchmark("bench_training.py", "Training loop: tfbert Trainer vs keras-hub fit",
                          ("--rounds", "3"), ("--steps", "1", "--rounds", "1", "--batch", "4",
                                              "--seq", "32")),
    "tokenizer": Benchmark("bench_tokenizer.py", "Tokenizer: tfbert vs Hugging Face tokenizers",
                           (), ("--repeats", "1", "--max-texts", "200")),
    "encoder": Benchmark("bench_encoder.py", "Encoder train and inference step vs keras-hub",
                         ("--models", "minilm", "--steps", "4", "--repeats", "3",
                          "--warmup", "1"), ("--models", "minilm", "--warmup", "1", "--steps", "1",
                              "--repeats", "1", "--batch", "4", "--seq", "32", "--no-bf16")),
    "export": Benchmark("bench_export.py", "Export formats: latency, size and accuracy",
                        ("--rounds", "5"), ("--rounds", "1", "--batch", "4", "--batch-calls", "1",
                                             "--calls", "3", "--warmup", "1", "--threads", "1",
                                             "--calibration", "32", "--check", "2",
                                             "--eval-limit", "16")),
    "pretrain-data": Benchmark("bench_pretrain_data.py", "Pre-training data: throughput and "
                               "peak memory", ("--small-mb", "20", "--large-mb", "100"),
                               ("--small-mb", "0.5", "--large-mb", "2")),
    "startup": Benchmark("bench_startup.py", "Start-up: the tfbert command vs import tensorflow",
                         (), ("--runs", "1", "--warmup", "0")),
    "beam-pretrain-data": Benchmark(
        "bench_beam_pretrain_data.py", "Pre-training data on Apache Beam: 1 and 2 workers vs "
        "one process", ("--sizes", "20", "100", "500", "--rounds", "1"),
        ("--sizes", "0.5", "--rounds", "1", "--split-mb", "0.2")),
    "predict-stream": Benchmark(
        "bench_predict_stream.py", "Streaming predict: peak memory on 10k vs 1M lines",
        ("--small", "10000", "--large", "1000000"), ("--small", "200", "--large", "2000")),
    # On these CPU hosts the published run is the tiny smoke size; BERT-base at batch 256 is
    # for a GPU (tools/accelerator_device.sh writes the same JSON there).
    "accelerator": Benchmark(
        "bench_accelerator.py", "Accelerator: BERT pre-training throughput and MFU, tfbert on "
        "JAX vs keras-hub and Hugging Face", ("--config", "tiny", "--batch", "32", "--warmup",
                                             "2", "--steps", "3", "--rounds", "3"),
        ("--config", "tiny", "--vocab", "512", "--batch", "4", "--seq", "16", "--masked", "3",
         "--warmup", "1", "--steps", "1", "--rounds", "1", "--variants", "tfbert-jax,hf-eager")),
}


def shown(path):
    """`path` as a command shows it: relative to the repository when inside it."""
    path = os.path.abspath(path)
    return os.path.relpath(path, REPO) if path.startswith(REPO + os.sep) else path


def command(name, args, json_path):
    bench = BENCHMARKS[name]
    argv = [sys.executable, os.path.join(REPO, "tools", bench.script),
            *(bench.quick if args.quick else bench.full)]
    if name == "export":
        argv += ["--model", args.model] + (["--eval-data", args.eval_data] if args.model else [])
        if args.batching_parameters:
            argv += ["--batching-parameters", args.batching_parameters]
    return argv + ["--json", json_path]


def display(argv):
    return shlex.join([PYTHON] + [shown(a) if os.path.isabs(a) else a for a in argv[1:]])


def regenerate_command(args):
    """This tool's command line for a whole run with `args`' settings."""
    argv = [PYTHON, "tools/benchmarks.py"] + (["--quick"] if args.quick else [])
    if not args.model:
        argv += ["--model", ""]
    if args.batching_parameters:
        argv += ["--batching-parameters", shown(args.batching_parameters)]
    for option, value, default in (("--model", args.model or DEMO_MODEL, DEMO_MODEL),
                                   ("--eval-data", args.eval_data if args.model else DEMO_EVAL,
                                    DEMO_EVAL),
                                   ("--results", args.results, "runs/benchmarks"),
                                   ("--output", args.output, "BENCHMARKS.md")):
        if shown(value) != default:
            argv += [option, shown(value)]
    return shlex.join(argv)


def machine():
    """The CPU, its relevant flags, RAM and library versions, as `run.json` keeps them."""
    def read(path):
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except OSError:  # not Linux: the fields below fall back to "unknown"
            return ""

    def field(text, key):
        return next((line.split(":", 1)[1].strip() for line in text.splitlines()
                     if line.startswith(key)), "")

    def version(dists):
        for dist in dists:
            try:
                return importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                pass
        return "not installed"

    cpuinfo, meminfo = read("/proc/cpuinfo"), read("/proc/meminfo")
    flags = set(field(cpuinfo, "flags").split())
    ram_kb = field(meminfo, "MemTotal").split()
    return {"cpu": field(cpuinfo, "model name") or platform.processor() or "unknown",
            "cores": os.cpu_count(), "flags": {f: f in flags for f in FLAGS} if flags else {},
            "ram_gib": round(int(ram_kb[0]) / 2**20, 1) if ram_kb else None,
            "python": platform.python_version(),
            "versions": {label: version(dists) for label, dists in VERSIONS.items()}}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def read_json(path, default=None):
    if not os.path.isfile(path):
        return default
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def run_benchmarks(names, args):
    """Runs `names` one after another; returns those that failed. A failed run leaves the
    previous NAME.json and its record in run.json as they were."""
    os.makedirs(args.results, exist_ok=True)
    meta_path = os.path.join(args.results, "run.json")
    meta = read_json(meta_path, {"runs": {}})
    meta.update(machine=machine(), command=regenerate_command(args))
    failed = []
    for number, name in enumerate(names, 1):
        final = os.path.join(args.results, f"{name}.json")
        partial, log = final + ".partial", os.path.join(args.results, f"{name}.log")
        argv = command(name, args, partial)
        print(f"[{number}/{len(names)}] {name}: {display(command(name, args, final))}  "
              f"(output: {shown(log)})", flush=True)
        started, load, start = now(), [os.getloadavg()], time.perf_counter()
        with open(log, "w", encoding="utf-8") as f:
            status = subprocess.run(argv, cwd=REPO, stdout=f, stderr=subprocess.STDOUT).returncode
        wall = time.perf_counter() - start
        load.append(os.getloadavg())
        if status or not os.path.isfile(partial):
            print(f"{name}: {BENCHMARKS[name].script} failed (exit {status}) after {wall:.0f} s; "
                  f"see {shown(log)}", flush=True)
            failed.append(name)
            continue
        os.replace(partial, final)
        meta["runs"][name] = {"command": display(command(name, args, final)), "started": started,
                              "wall_s": round(wall, 1), "load_avg": load, "quick": args.quick}
        write_json(meta_path, meta)
        print(f"{name}: done in {wall:.0f} s", flush=True)
    write_json(meta_path, meta)
    return failed


# --- rendering: one function per benchmark, JSON in, Markdown lines out ---

def spread(values):
    return max(values) - min(values)


def settings(data):
    return ", ".join(f"{k}={v}" for k, v in data.get("args", {}).items()
                     if k not in ("json", "out") and v is not None)


def training_section(data):
    medians, rounds = data["medians"], data["rounds"]
    anchor = max((k for k in medians if k.startswith("keras-hub")), key=medians.get)
    lines = [f"Anchor: **{anchor}**, the faster keras-hub `fit` in this run (what the script "
             "divides by). Sequences per second; median and spread (max − min) of the rounds.",
             "", f"| loop | seq/s, median of {len(rounds[anchor])} | spread | × {anchor} |",
             "|---|---|---|---|"]
    for name, value in medians.items():
        lines.append(f"| {name} | {value:.2f} | {spread(rounds[name]):.2f} | "
                     f"{value / medians[anchor]:.2f} |")
    return lines


def tokenizer_section(data):
    lines = ["Anchor: **Hugging Face `tokenizers`** (`encode_batch`), timed in turns with tfbert "
             f"(tokenizers {data['tokenizers']}). Medians of {data['args']['repeats']} rounds; "
             "spread is max − min of the rounds' seconds.", "",
             "| corpus | texts | MB | tfbert texts/s | tfbert MB/s | tfbert s (spread) | "
             "tokenizers texts/s | tokenizers MB/s | tokenizers s (spread) | "
             "tfbert / tokenizers |", "|---" * 10 + "|"]
    for row in data["rows"]:
        ours, theirs = row["tfbert_median_s"], row["tokenizers_median_s"]
        lines.append(f"| {row['corpus']} | {row['texts']} | {row['mb']:.2f} | "
                     f"{row['texts'] / ours:,.0f} | {row['mb'] / ours:.2f} | "
                     f"{ours:.3f} ({spread(row['tfbert_s']):.3f}) | {row['texts'] / theirs:,.0f} | "
                     f"{row['mb'] / theirs:.2f} | {theirs:.3f} ({spread(row['tokenizers_s']):.3f}) "
                     f"| {theirs / ours:.2f} |")
    return lines


# The anchors bench_encoder.py divides by (its `markdown`), per kind of step.
ENCODER_ANCHORS = {"train": "keras-hub BertTextClassifier, fit path",
                   "infer": "keras-hub BertBackbone"}


def encoder_section(data):
    rows = data["rows"]
    lines = [f"Machine as the script saw it: {data['machine']}.", "",
             "Anchors: **" + "** (train) and **".join(ENCODER_ANCHORS.values()) + "** (infer), "
             "same model size, same run. Sequences per second; median and spread (max − min) "
             "of the timed blocks.", "",
             "| model | kind | variant | seq/s (median) | spread | × keras-hub |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        anchor = next(r["seq_per_s"] for r in rows if r["model"] == row["model"]
                      and r["kind"] == row["kind"] and r["variant"] == ENCODER_ANCHORS[row["kind"]])
        lines.append(f"| {row['model']} | {row['kind']} | {row['variant']} | "
                     f"{row['seq_per_s']:.2f} | {spread(row['blocks']):.2f} | "
                     f"{row['seq_per_s'] / anchor:.2f} |")
    return lines


def export_section(data):
    results, threads = data["results"], data["args"]["threads"]
    scored = "accuracy" in next(iter(results.values()))
    lines = [f"Model: `{shown(data['info']['source'])}`; batch 1, seq 128. Anchor: **onnxruntime "
             "int8** (dynamic int8), same run, same thread count; each latency is the median "
             f"of {data['args']['rounds']} round medians of {data['args']['calls']} calls, "
             "spread is max − min of the round medians. Size / fp32 is to the same format's "
             "fp32 file; max abs diff and top-1 agree compare probabilities with Keras on "
             f"{data['info']['check_texts']} texts.", ""]
    if scored:
        e = data["info"]["eval"]
        lines += [f"Accuracy: every variant classifies the {e['examples']} texts of "
                  f"`{shown(e['data'])}` one at a time, cut to {e['max_length']} pieces (the "
                  f"model's own length is {e['model_max_length']}); the Keras model on the same "
                  f"inputs: accuracy {e['keras']['accuracy']:.2f} %, macro F1 "
                  f"{e['keras']['macro_f1']:.2f} %.", ""]
    else:
        lines += ["No accuracy: the run had no `--eval-data`."
                  + (" The model is the bare pre-trained MiniLM-L6 under an untrained head "
                     "(`--model ''`): its probabilities are near uniform, so the top-1 "
                     "agreement of the quantized variants says little; latency is what this "
                     "run measures." if not data["args"].get("model") else ""), ""]
    head = (["variant", "MB", "size / fp32"]
            + [f"{n} thr ms (spread)" for n in threads] + [f"÷ ORT int8 @{n} thr" for n in threads]
            + [f"max abs diff p @{max(threads)} thr", "top-1 agree"]
            + (["accuracy %", "macro F1 %"] if scored else []))
    lines += ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name, row in results.items():
        at, top = [row[f"threads_{n}"] for n in threads], row[f"threads_{max(threads)}"]
        cells = ([name, f"{row['mb']:.1f}", f"{row['size_vs_fp32']:.3f}"]
                 + [f"{t['median_ms']:.1f} ({t['spread_ms']:.1f})" for t in at]
                 + [f"{t['vs_anchor']:.2f}" for t in at]
                 + [f"{top['max_abs_diff']:.2g}", f"{top['top1_agree']:.2f}"]
                 + ([f"{row['accuracy']:.2f}", f"{row['macro_f1']:.2f}"] if "accuracy" in row
                    else ["—", "—"] if scored else []))
        lines.append("| " + " | ".join(cells) + " |")
    return lines + export_targets(data) + export_throughput(data) + export_batching(data)


def export_targets(data):
    """The SavedModel (as TF Serving runs it) against ONNX Runtime fp32, per thread count."""
    results, threads = data["results"], data["args"]["threads"]
    ours, theirs = results.get("tf savedmodel fp32"), results.get("onnxruntime fp32")
    if not ours or not theirs:
        return []
    lines = ["", "SavedModel batch-1 latency over ONNX Runtime fp32's, same run (target <= 1): "
             + "; ".join(f"{name} " + ", ".join(
                 f"{row[f'threads_{n}']['median_ms'] / theirs[f'threads_{n}']['median_ms']:.2f}"
                 f" @{n} thr" for n in threads)
                 for name, row in results.items() if name.startswith("tf savedmodel")) + "."]
    return lines


def export_throughput(data):
    results, threads, batch = data["results"], data["args"]["threads"], data["args"].get("batch")
    rows = [(name, row) for name, row in results.items()
            if batch and f"batch_{batch}" in row.get(f"threads_{threads[0]}", {})]
    if not rows:
        return []
    head = (["variant"] + [f"{n} thr texts/s" for n in threads]
            + [f"{n} thr ms per call (spread)" for n in threads]
            + [f"÷ ORT fp32 @{n} thr" for n in threads])
    lines = ["", f"Throughput at batch {batch} (texts per call; TFLite's model takes one text, "
             f"so its call is {batch} calls), median of {data['args']['rounds']} round medians "
             f"of {data['args'].get('batch_calls')} calls:", "",
             "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name, row in rows:
        at = [row[f"threads_{n}"][f"batch_{batch}"] for n in threads]
        lines.append("| " + " | ".join(
            [name] + [f"{b['texts_per_s']:.1f}" for b in at]
            + [f"{b['median_ms']:.0f} ({b['spread_ms']:.0f})" for b in at]
            + [f"{b['vs_onnxruntime_fp32']:.2f}" for b in at]) + " |")
    return lines


def export_batching(data):
    policy = data["info"].get("batching_parameters")
    if not policy:
        return []
    lines = ["", f"TF Serving batching replayed (`{shown(policy['file'])}`: max_batch_size "
             f"{policy['max_batch_size']}, batch_timeout_micros "
             f"{policy['batch_timeout_micros']}, num_batch_threads {policy['num_batch_threads']}, "
             f"max_enqueued_batches {policy['max_enqueued_batches']}, allowed_batch_sizes "
             f"{policy['allowed_batch_sizes'] or 'any'}): {policy['requests']} one-text requests "
             f"from {policy['clients']} closed-loop clients, {policy['threads']} intra-op "
             "threads, against the same load unbatched:", "",
             "| variant | mode | requests/s | p50 ms | p99 ms | mean batch | refused |",
             "|---|---|---|---|---|---|---|"]
    for name, row in data["results"].items():
        for mode, b in row.get("batching", {}).items():
            lines.append(f"| {name} | {mode} | {b['requests_per_s']:.1f} | "
                         f"{b['latency_p50_ms']:.0f} | {b['latency_p99_ms']:.0f} | "
                         f"{b['mean_batch']:.1f} | {b['refused']} |")
    return lines


def pretrain_data_section(data):
    rows = data["rows"]
    small = next(r for r in rows if r["corpus"] == "small")
    lines = ["Anchor: **the small corpus** of the same run; memory is bounded if the large "
             "corpus's peak RSS stays near it. One `tfbert pretrain-data` process per corpus "
             "(no repeats, so no spread).", "",
             "| corpus | MB | seconds | MB/s | × small MB/s | peak RSS (MB) | × small RSS |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['corpus']} | {row['mb']:.1f} | {row['seconds']:.1f} | "
                     f"{row['mb_per_s']:.2f} | {row['mb_per_s'] / small['mb_per_s']:.2f} | "
                     f"{row['peak_rss_mb']:.0f} | "
                     f"{row['peak_rss_mb'] / small['peak_rss_mb']:.2f} |")
    return lines


def startup_section(data):
    rows, machine = data["rows"], data["cpu"]
    anchor = next(r for r in rows if r["command"] == data["anchor"])
    flags = ", ".join(f"{f} {'yes' if on else '**no**'}" for f, on in machine["flags"].items())
    lines = [f"CPU as the script saw it: {machine['model']}, {machine['cores']} cores; "
             f"{flags}.", "",
             f"Anchor: **`python -c \"{data['anchor']}\"`**, same run. Wall seconds of a fresh "
             f"process; median of {len(anchor['seconds'])} runs, the commands taking turns; "
             "spread is max − min.", "",
             f"| command | s (median) | spread | × {data['anchor']} |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| `{row['command']}` | {row['median_s']:.3f} | {row['spread_s']:.3f} | "
                     f"{row['median_s'] / anchor['median_s']:.2f} |")
    return lines


def beam_pretrain_data_section(data):
    summary, machine = data["summary"], data["cpu"]
    lines = [f"CPU as the script saw it: {machine['model']}, {machine['cpus']} cores; flags "
             f"{', '.join(machine['flags']) or 'none of avx/amx'}.", "",
             "Anchor: **the single process** (`tfbert pretrain-data` without `--runner`) on "
             "the same corpus in the same run. MB of text per second of the whole command "
             "(start-up included), median of the rounds; peak RSS is the largest of the "
             "rounds, of the command's own process and of its largest worker process "
             "(VmHWM).", "",
             "| corpus MB | configuration | MB/s (median) | × single process | peak RSS MB, "
             "driver | peak RSS MB, largest worker |", "|---|---|---|---|---|---|"]
    for row in summary:
        worker = f"{row['worker_peak_mb']:.0f}" if row["worker_peak_mb"] else "(in the driver)"
        lines.append(f"| {row['mb']:.1f} | {row['config']} | {row['median_mb_per_s']:.2f} | "
                     f"{row['ratio']:.2f} | {row['driver_peak_mb']:.0f} | {worker} |")
    return lines


def predict_stream_section(data):
    rows, machine = data["rows"], data["cpu"]
    small = rows[0]
    lines = [f"CPU as the script saw it: {machine.get('model', '?')}; flags "
             f"{', '.join(machine.get('flags', [])) or 'none of avx/amx'}.", "",
             "Anchor: **the small input** of the same run; memory is bounded if the large "
             "input's peak RSS stays near it (target: ratio ≤ 1.2). One fresh `tfbert "
             "predict --input F --output O` process per input.", "",
             "| input | lines | MB | seconds | lines/s | peak RSS (MB) | × small RSS |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['input']} | {row['lines']} | {row['mb']:.1f} | "
                     f"{row['seconds']:.1f} | {row['lines_per_s']:.0f} | "
                     f"{row['peak_rss_mb']:.0f} | "
                     f"{row['peak_rss_mb'] / small['peak_rss_mb']:.3f} |")
    return lines


ACCELERATOR_TARGET = ("Issue 24's target for BERT-base, seq 128, batch 256 on one H200 or H100: "
                      "≥ 5,500 seq/s, ≥ 1.4× the best anchor, ≥ 50 % MFU.")


def accelerator_section(data):
    variants, config, flops = data["variants"], data["config"], data["flops_per_sequence"]
    anchor, host = data["anchor"], data["host"]["cpu"]
    labels = {"tfbert-jax": "tfbert (JAX)", "keras-hub-jax": "keras-hub (JAX)",
              "hf-eager": "HF torch eager", "hf-compile": "HF torch.compile"}
    peaks = sorted({r["peak_source"] for r in variants.values() if r["status"] == "ok"})
    devices = ", ".join(data["devices"]) or "none"
    lines = [f"Device: **{devices}**"
             + ("" if data["same_device"] else " (**not the same for every variant**)")
             + f"; host CPU {host['model']}, {host['cores']} cores, flags "
             f"{', '.join(host['flags']) or 'none of avx/amx'}. Script command: "
             f"`{data['command']}`.", "",
             f"Model: {config['num_layers']} layers, hidden {config['hidden_size']}, "
             f"{config['num_heads']} heads, vocab {config['vocab_size']}; batch "
             f"{data['args']['batch']} × seq {data['args']['seq']}, MLM on "
             f"{data['args']['masked']} positions + NSP, {data['precision']}. FLOPs per "
             f"trained sequence: {flops['train'] / 1e9:.3f} G (3 × forward, the script's "
             "formula; 6·N·S + 12·L·H·S² would give "
             f"{data['palm_gflop_per_sequence']:.3f} G). "
             f"Peak: {'; '.join(peaks) or 'none measured'}.", "",
             f"Anchor: **{labels.get(anchor, 'none present')}**, the fastest of keras-hub / HF "
             "eager / HF compile in this run. Sequences per second; median and spread (max − "
             f"min) of {data['args']['rounds']} rounds of {data['args']['steps']} steps after "
             f"{data['args']['warmup']} warm-up steps (compilation).", "",
             "| variant | seq/s (median) | spread | TFLOP/s | MFU | × anchor | warm-up s |",
             "|---|---|---|---|---|---|---|"]
    for name, row in variants.items():
        if row["status"] != "ok":
            lines.append(f"| {labels[name]} | {row['status']}: {row['reason']} | | | | | |")
            continue
        mfu = f"{100 * row['mfu']:.1f} %" if row["mfu"] is not None else "n/a"
        ratio = f"{row['vs_anchor']:.2f}" if row["vs_anchor"] is not None else "n/a"
        lines.append(f"| {labels[name]} | {row['seq_per_s']:.1f} | {row['spread']:.1f} | "
                     f"{row['tflops']:.3f} | {mfu} | {ratio} | {row['warmup_s']:.0f} |")
    return lines + ["", ACCELERATOR_TARGET]


SECTIONS = {"training": training_section, "tokenizer": tokenizer_section,
            "encoder": encoder_section, "export": export_section,
            "pretrain-data": pretrain_data_section, "startup": startup_section,
            "beam-pretrain-data": beam_pretrain_data_section,
            "predict-stream": predict_stream_section, "accelerator": accelerator_section}


def machine_section(meta):
    info, runs = meta.get("machine"), sorted(meta["runs"].values(), key=lambda r: r["started"])
    if not info:
        return ["No `run.json` in the results directory: the machine was not recorded."]
    flags = ", ".join(f"{f} {'yes' if on else '**no**'}" for f, on in info["flags"].items())
    load = (" → ".join(" / ".join(f"{x:.2f}" for x in avg) for avg in
                       (runs[0]["load_avg"][0], runs[-1]["load_avg"][1])) if runs else "unknown")
    rows = [("CPU", info["cpu"]), ("cores", info["cores"]), ("flags", flags or "unknown"),
            ("RAM", f"{info['ram_gib']} GiB"),
            ("load average (1 / 5 / 15 min), first start → last end", load),
            ("Python", info["python"]), *info["versions"].items()]
    return ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]


def section(name, results, meta, rerun):
    bench, path = BENCHMARKS[name], os.path.join(results, f"{name}.json")
    lines = [f"## {bench.title}", "", f"`tools/{bench.script}`: "
             + (read_docstring(bench.script) or "see the script."), ""]
    produce = f"`{rerun} --only {name}`"
    if not os.path.isfile(path):
        return lines + [f"_Not measured: there is no `{shown(path)}`._ Produce it with "
                        f"{produce}, which renders this file again.", ""]
    run = meta["runs"].get(name)
    if run:
        lines += [f"Command: `{run['command']}`  ", f"Measured {run['started']} in "
                  f"{run['wall_s']:.0f} s; 1-minute load average {run['load_avg'][0][0]:.2f} → "
                  f"{run['load_avg'][1][0]:.2f}."]
    else:
        lines += [f"Command: not recorded (`{shown(path)}` was not written by this tool; "
                  f"{produce} measures it again)."]
    data = read_json(path)
    lines += [f"Settings: {settings(data)}.", ""]
    if run and run["quick"]:
        lines += ["**Quick smoke settings: these figures are not meaningful.**", ""]
    try:
        return lines + SECTIONS[name](data) + [""]
    except (KeyError, TypeError, ValueError, StopIteration) as err:
        return lines + [f"_Could not read `{shown(path)}` ({type(err).__name__}: {err}); "
                        f"measure it again with {produce}._", ""]


def read_docstring(script):
    """The first paragraph of a script's docstring, read as text (importing it would start
    TensorFlow)."""
    try:
        with open(os.path.join(REPO, "tools", script), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return ""
    return " ".join(text.split('"""')[1].strip().split("\n\n")[0].split()) if text.startswith(
        '"""') else ""


def previous_sections(text) -> dict:
    """`{heading: section text}` of an earlier BENCHMARKS.md (`## ` headings)."""
    sections, heading = {}, None
    for line in (text or "").splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
            sections[heading] = []
        elif heading:
            sections[heading].append(line)
    return {h: "\n".join(body).strip() for h, body in sections.items()}


def render(results, rerun, previous=None):
    """BENCHMARKS.md's text from the JSON files in `results`; `rerun` is the command that
    measures everything again (missing sections name it with `--only`). `previous`: the
    earlier BENCHMARKS.md; a benchmark with no JSON here keeps its section from it,
    marked as such, with that run's machine table (results directories are not kept
    between machines, BENCHMARKS.md is)."""
    kept_from = previous_sections(previous)
    meta = read_json(os.path.join(results, "run.json"), {"runs": {}})
    runs = {n: r for n, r in meta["runs"].items() if os.path.isfile(
        os.path.join(results, f"{n}.json"))}
    meta = {**meta, "runs": runs}
    command = meta.get("command", rerun)
    quick = [n for n in BENCHMARKS if runs.get(n, {}).get("quick")]
    lines = ["# Benchmarks", ""]
    if quick:
        lines += [f"> **QUICK SMOKE RUN** (`--quick`; sections: {', '.join(quick)}). Tiny "
                  "settings that only show the pipeline works end to end: the figures below are "
                  "NOT meaningful. Run without `--quick` for real ones.", ""]
    total = sum(r["wall_s"] for r in runs.values())
    dates = sorted(r["started"] for r in runs.values())
    lines += [f"Generated by `tools/benchmarks.py` from the JSON files in `{shown(results)}`; "
              "do not edit by hand. Regenerate with", "", f"    {command}", "",
              f"Rendered {now()}. Measured "
              + (f"{dates[0]} to {dates[-1]}" if dates else "never")
              + f"; total wall time {total / 60:.1f} min ({len(runs)} of {len(BENCHMARKS)} "
              "benchmarks, run one after another). Every figure below comes from those files"
              + (", except in the sections marked as kept from an earlier run" if any(
                  n not in runs and BENCHMARKS[n].title in kept_from for n in BENCHMARKS)
                 else "")
              + "; each ratio is to an anchor measured in the same run.", "", "## Machine", ""]
    lines += machine_section(meta) + [""]
    kept = []
    for name in BENCHMARKS:
        title = BENCHMARKS[name].title
        old = kept_from.get(title)
        if name not in runs and old and "_Not measured" not in old:
            if old.startswith("_Kept from an earlier run"):   # kept twice: once marked
                old = old.split("\n", 1)[1].lstrip()
            lines += [f"## {title}", "", "_Kept from an earlier run (no JSON for it in "
                      f"`{shown(results)}`): measured on the machine of \"Machine of the kept "
                      "sections\" below, not the one above._", "", old, ""]
            kept.append(name)
        else:
            lines += section(name, results, meta, rerun)
    machine = kept_from.get("Machine of the kept sections") or kept_from.get("Machine")
    if kept and machine:
        lines += ["## Machine of the kept sections", "", machine, ""]
    return "\n".join(lines).rstrip() + "\n"


def check_export_inputs(args):
    needed = ([os.path.join(args.model, "task.json"), args.eval_data] if args.model else []) + (
        [args.batching_parameters] if args.batching_parameters else [])
    missing = next((path for path in needed if not os.path.isfile(path)), None)
    if missing:
        raise SystemExit(f"benchmarks: no {shown(missing)}; run `tfbert demo --english` (or "
                         "`make demo-english`) first, or pass --model DIR --eval-data FILE")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=os.path.join(REPO, "runs", "benchmarks"),
                        help="directory of the JSON files (default: runs/benchmarks)")
    parser.add_argument("--output", default=os.path.join(REPO, "BENCHMARKS.md"),
                        help="the Markdown to write (default: BENCHMARKS.md)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--render-only", action="store_true",
                        help="measure nothing; rebuild the Markdown from the JSON files")
    parser.add_argument("--quick", action="store_true",
                        help="tiny settings, a smoke run: the figures are not meaningful")
    parser.add_argument("--model", default=os.path.join(REPO, DEMO_MODEL),
                        help=f"fine-tuned classifier for the export benchmark ({DEMO_MODEL}; "
                             "'' = the bare MiniLM-L6 under an untrained head: latency only, "
                             "no --eval-data)")
    parser.add_argument("--eval-data", default=os.path.join(REPO, DEMO_EVAL),
                        help=f"its labelled test split ({DEMO_EVAL})")
    parser.add_argument("--batching-parameters",
                        help="export benchmark: a TF Serving BatchingParameters file to "
                             "replay (a version's batching_params.pbtxt)")
    args = parser.parse_args(argv)
    for key in ("results", "output", "model", "eval_data", "batching_parameters"):
        if getattr(args, key):   # '' (--model: the bare MiniLM) stays ''
            setattr(args, key, os.path.abspath(getattr(args, key)))
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"--only: unknown benchmark {unknown[0]!r}; expected some of "
                     f"{','.join(BENCHMARKS)}")
    failed = []
    if not args.render_only:
        if "export" in names:
            check_export_inputs(args)  # before an hour of other benchmarks
        failed = run_benchmarks(names, args)
    previous = None
    if os.path.isfile(args.output):
        with open(args.output, encoding="utf-8") as f:
            previous = f.read()
    with atomic_file(args.output) as staging:
        with open(staging, "w", encoding="utf-8") as f:
            f.write(render(args.results, regenerate_command(args), previous))
    print(f"wrote {shown(args.output)}")
    if failed:
        raise SystemExit(f"benchmarks: {', '.join(failed)} failed (logs in {shown(args.results)}); "
                         "their sections keep the previous results")


if __name__ == "__main__":
    main()
