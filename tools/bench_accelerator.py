"""Accelerator benchmark: BERT pre-training throughput and model FLOPs utilisation, tfbert on
JAX against keras-hub on JAX and Hugging Face on PyTorch (eager and `torch.compile`).

Each variant trains the same BERT (default: base, seq 128, batch 256, MLM on 20 positions
plus next-sentence, mixed bfloat16, AdamW with global-norm clipping) on the same random batch
in a process of its own (`tools/accelerator_variants.py`; the Keras ones with
KERAS_BACKEND=jax and no TensorFlow imported). Each runs `--warmup` untimed steps
(compilation), then `--rounds` timed rounds of `--steps` steps, the device synchronised at
each round's end; the figure is the median round's sequences per second, spread is max − min.
The anchor is the fastest of keras-hub / HF eager / HF compile present in the run, and every
ratio is to it. `--config tiny` runs a CPU smoke test in seconds.

FLOPs per sequence (S = seq, L = layers, H = hidden, I = intermediate, V = vocab,
P = masked positions), the same count for every variant, matrix products only (embedding
look-ups, LayerNorm, softmax and the optimizer are not counted):

    forward = 2·S·L·(4H² + 2HI)        Q, K, V, attention output and the two FFN matrices
            + L·2·2·S²·H               attention scores QKᵀ and probabilities × V
            + 2·P·(H² + HV)            MLM head on P positions: transform, tied decoder
            + 2·(H² + 2H)              pooler on [CLS] and the next-sentence classifier
    training = 3 × forward             backward ≈ twice the forward

BERT-base, S 128, P 20: 23.3 GFLOP forward, 69.9 GFLOP per trained sequence. MFU is
sequences/s × that over the device's dense bf16 peak (`PEAK_BF16`, by the device name the
framework reports; CPUs: unknown, MFU null). The JSON also gives `palm_gflop_per_sequence`,
6·N·S + 12·L·H·S² with N all parameters (embeddings included): the count the issue's
anchor percentages fit, for comparison only.

    .venv/bin/python tools/bench_accelerator.py --json runs/bench_accelerator.json   # GPU
    .venv/bin/python tools/bench_accelerator.py --config tiny --batch 32 --steps 3    # CPU
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(REPO, "tools", "accelerator_variants.py")
sys.path.insert(0, REPO)   # tfbert.registry: preset sizes (stdlib only, no TensorFlow)

from tfbert.registry import architecture  # noqa: E402

# name: (label, the modules it needs, Keras on JAX?). The last three are anchors.
VARIANTS = {"tfbert-jax": ("tfbert (JAX)", ("jax", "keras"), True),
            "keras-hub-jax": ("keras-hub BertMaskedLM train_step (JAX)",
                              ("jax", "keras", "keras_hub"), True),
            "hf-eager": ("HF BertForPreTraining, torch eager", ("torch", "transformers"), False),
            "hf-compile": ("HF BertForPreTraining, torch.compile", ("torch", "transformers"),
                           False)}
ANCHORS = ("keras-hub-jax", "hf-eager", "hf-compile")

# Dense (no sparsity) bf16 tensor-core peak per device, FLOP/s, from NVIDIA's datasheets;
# matched in order against the device name the framework reports.
PEAK_BF16 = (
    (r"H100.*PCIe", 756e12), (r"H100.*NVL|H200.*NVL", 835e12),
    (r"H100|H200|GH200", 989e12), (r"A100", 312e12), (r"L40S", 362e12),
    (r"A10\b|A10G", 125e12), (r"\bL4\b", 121e12),
)
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def peak_bf16(device) -> tuple:
    """`(FLOP/s or None, where the figure comes from)` for a variant's reported device."""
    if device["platform"] != "gpu":
        return None, ("unknown: a CPU's bf16 rate depends on its microarchitecture (how many "
                      "bf16 dot-product or AMX instructions it issues per cycle) and its "
                      "clock under load, which neither the flags nor a virtual machine's "
                      "model name tell; MFU not computed")
    for pattern, flops in PEAK_BF16:
        if re.search(pattern, device["name"]):
            return flops, f"NVIDIA datasheet, dense bf16, matched {pattern!r}"
    return None, f"unknown: {device['name']!r} is not in bench_accelerator.PEAK_BF16"


def flops_per_sequence(config, seq, masked) -> dict:
    """The forward terms of the module docstring's formula, and training = 3 × forward."""
    L, H, I, V = (config[k] for k in ("num_layers", "hidden_size", "intermediate_size",
                                      "vocab_size"))
    terms = {"encoder_matmuls": 2 * seq * L * (4 * H * H + 2 * H * I),
             "attention_scores": L * 2 * 2 * seq * seq * H,
             "mlm_head": 2 * masked * (H * H + H * V),
             "pooler_nsp": 2 * (H * H + 2 * H)}
    forward = sum(terms.values())
    return {"forward_terms": terms, "forward": forward, "train": 3 * forward}


def palm_flops(config, seq) -> int:
    """6·N·S + 12·L·H·S², N every parameter of BERT with its pre-training heads."""
    L, H, I, V, P, T = (config[k] for k in ("num_layers", "hidden_size", "intermediate_size",
                                            "vocab_size", "max_position_embeddings",
                                            "type_vocab_size"))
    params = ((V + P + T) * H + 2 * H                               # embeddings, LayerNorm
              + L * (4 * H * H + 4 * H + 2 * H * I + I + H + 4 * H)  # blocks
              + H * H + H                                            # pooler
              + H * H + H + 2 * H + V                                # MLM transform, LN, bias
              + 2 * H + 2)                                           # next sentence
    return 6 * params * seq + 12 * L * H * seq * seq


def cpu() -> dict:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            text = f.read()
    except OSError:
        text = ""

    def field(key):
        return next((line.split(":", 1)[1].strip() for line in text.splitlines()
                     if line.startswith(key)), "")
    flags = set(field("flags").split())
    return {"model": field("model name") or platform.processor() or "unknown",
            "cores": os.cpu_count(), "flags": [f for f in CPU_FLAGS if f in flags]}


def positive(value):
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; received {value}")
    return number


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="base",
                        help="model size: a tfbert preset (tiny ... large) or L<n>-H<n>")
    parser.add_argument("--vocab", type=positive, default=30522)
    parser.add_argument("--batch", type=positive, default=256)
    parser.add_argument("--seq", type=positive, default=128)
    parser.add_argument("--masked", type=positive, default=20, help="MLM positions per row")
    parser.add_argument("--warmup", type=positive, default=3, help="untimed steps (compile)")
    parser.add_argument("--steps", type=positive, default=20, help="steps per timed round")
    parser.add_argument("--rounds", type=positive, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated subset of {','.join(VARIANTS)}")
    parser.add_argument("--timeout", type=positive, default=1800,
                        help="seconds one variant may take")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if architecture(args.config) is None:
        parser.error(f"--config: unknown size {args.config!r}; expected tiny, mini, small, "
                     "medium, base, large or L<layers>-H<hidden>")
    if args.masked >= args.seq:
        parser.error(f"--masked must be below --seq (position 0 is [CLS]); received "
                     f"--masked {args.masked} --seq {args.seq}")
    args.variants = args.variants.split(",")
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        parser.error(f"--variants: unknown variant {unknown[0]!r}; expected some of "
                     f"{','.join(VARIANTS)}")
    return args


def spec(args) -> dict:
    config = dict(architecture(args.config), vocab_size=args.vocab,
                  max_position_embeddings=max(512, args.seq), type_vocab_size=2)
    return {"config": config, "vocab_size": args.vocab, "batch": args.batch, "seq": args.seq,
            "masked": args.masked, "warmup": args.warmup, "steps": args.steps,
            "rounds": args.rounds}


def run_variant(name, spec_path, workdir, timeout):
    """The worker's result, or `{"status": "skipped" | "failed", "reason": ...}`."""
    missing = [m for m in VARIANTS[name][1] if importlib.util.find_spec(m) is None]
    if missing:
        return {"status": "skipped", "reason": f"{missing[0]} is not installed"}
    result_path = os.path.join(workdir, f"{name}.json")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [REPO] + [p for p in [os.environ.get("PYTHONPATH")] if p]), PYTHONUNBUFFERED="1")
    if VARIANTS[name][2]:
        env["KERAS_BACKEND"] = "jax"
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, WORKER, name, spec_path, result_path], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": f"timed out after {timeout} s (--timeout)"}
    print(done.stdout[-4000:], end="", flush=True)
    if done.returncode or not os.path.isfile(result_path):
        last = [line for line in done.stdout.splitlines() if line.strip()][-1:] or ["no output"]
        return {"status": "failed", "reason": f"exit {done.returncode}: {last[0][:300]}"}
    with open(result_path, encoding="utf-8") as f:
        result = json.load(f)
    return {"status": "ok", **result, "wall_s": round(time.perf_counter() - start, 1)}


def summarise(results, flops_train) -> dict:
    """Adds median, spread, TFLOP/s, peak, MFU and the ratio to the best anchor to each
    finished variant; returns `{"anchor": name or None, "ratio": tfbert's or None}`."""
    for result in results.values():
        if result["status"] != "ok":
            continue
        rates = result["rounds_seq_per_s"]
        result["seq_per_s"] = statistics.median(rates)
        result["spread"] = max(rates) - min(rates)
        result["tflops"] = result["seq_per_s"] * flops_train / 1e12
        peak, source = peak_bf16(result["device"])
        result["peak_bf16_flops"], result["peak_source"] = peak, source
        result["mfu"] = result["tflops"] * 1e12 / peak if peak else None
    present = [n for n in ANCHORS if results.get(n, {}).get("status") == "ok"]
    anchor = max(present, key=lambda n: results[n]["seq_per_s"]) if present else None
    for result in results.values():
        if result["status"] == "ok":
            result["vs_anchor"] = (result["seq_per_s"] / results[anchor]["seq_per_s"]
                                   if anchor else None)
    tfbert = results.get("tfbert-jax", {})
    return {"anchor": anchor, "ratio": tfbert.get("vs_anchor")}


def table(results, anchor) -> list:
    lines = [f"| variant | device | seq/s (median) | spread | TFLOP/s | MFU | × {anchor} |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        if r["status"] != "ok":
            lines.append(f"| {VARIANTS[name][0]} | {r['status']}: {r['reason']} | | | | | |")
            continue
        mfu = f"{100 * r['mfu']:.1f} %" if r["mfu"] is not None else "n/a"
        ratio = f"{r['vs_anchor']:.2f}" if r["vs_anchor"] is not None else "n/a"
        lines.append(f"| {VARIANTS[name][0]} | {r['device']['name']} | {r['seq_per_s']:.1f} | "
                     f"{r['spread']:.1f} | {r['tflops']:.2f} | {mfu} | {ratio} |")
    return lines


def main(argv=None) -> dict:
    args = parse(argv)
    run_spec = spec(args)
    flops = flops_per_sequence(run_spec["config"], args.seq, args.masked)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_accelerator.") as workdir:
        spec_path = os.path.join(workdir, "spec.json")
        with open(spec_path, "w", encoding="utf-8") as f:
            json.dump(run_spec, f)
        for name in args.variants:
            print(f"{name}: {VARIANTS[name][0]}", flush=True)
            results[name] = run_variant(name, spec_path, workdir, args.timeout)
            print(f"{name}: {results[name]['status']} {results[name].get('reason', '')}",
                  flush=True)
    summary = summarise(results, flops["train"])
    devices = sorted({r["device"]["name"] for r in results.values() if r["status"] == "ok"})
    report = {
        "command": " ".join(["tools/bench_accelerator.py"] + (argv if argv is not None
                                                               else sys.argv[1:])),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "args": {k: v for k, v in vars(args).items() if k not in ("json", "timeout")},
        "config": run_spec["config"], "precision": "mixed bfloat16",
        "flops_per_sequence": flops,
        "palm_gflop_per_sequence": palm_flops(run_spec["config"], args.seq) / 1e9,
        "devices": devices, "same_device": len(devices) <= 1,
        "host": {"cpu": cpu(), "python": platform.python_version()},
        **summary, "variants": results}
    print("\n".join([""] + table(results, summary["anchor"])), flush=True)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    failed = [n for n, r in results.items() if r["status"] == "failed"]
    if failed:
        raise SystemExit(f"bench_accelerator: {', '.join(failed)} failed; see the output above")
    return report


if __name__ == "__main__":
    main()
