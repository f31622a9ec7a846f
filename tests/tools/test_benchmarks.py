"""tools/benchmarks.py renders BENCHMARKS.md from the benchmark scripts' JSON files.

The fixtures have the shapes the scripts write (`--json`), with round numbers, so that each
expected ratio can be worked out by hand; nothing is measured and TensorFlow is not needed.
"""

import json
import os

import pytest

from tools import benchmarks

TRAINING = {  # bench_training.py
    "machine": "x86_64", "cpus": 2,
    "args": {"batch": 16, "seq": 128, "steps": 10, "rounds": 3, "json": "x.json"},
    "rounds": {"keras-hub fit (jit_compile=False)": [10.0, 11.0, 9.0],
               "keras-hub fit (jit_compile=auto)": [12.0, 12.5, 11.0],
               "tfbert Trainer": [9.0, 8.0, 9.5]},
    "medians": {"keras-hub fit (jit_compile=False)": 10.0,
                "keras-hub fit (jit_compile=auto)": 12.0, "tfbert Trainer": 9.0},
    "ratio": 0.75}
TOKENIZER = {  # bench_tokenizer.py
    "args": {"batch": 256, "max_length": 128, "repeats": 3, "max_texts": None, "json": "x"},
    "cpus": 2, "tensorflow": "2.21.0", "tokenizers": "0.23.3",
    "rows": [{"corpus": "english news", "texts": 1000, "mb": 2.0, "tfbert_s": [2.0, 2.5, 1.9],
              "tokenizers_s": [1.0, 1.1, 0.9], "tfbert_median_s": 2.0,
              "tokenizers_median_s": 1.0, "ratio": 0.5}]}
ENCODER = {  # bench_encoder.py
    "machine": "Intel Xeon, 2 cores", "args": {"models": "minilm", "batch": 16, "json": "x"},
    "rows": [
        {"model": "minilm", "kind": "train", "variant": "keras-hub BertTextClassifier, fit path",
         "seq_per_s": 8.0, "blocks": [7.0, 8.0, 9.0]},
        {"model": "minilm", "kind": "train", "variant": "tfbert, tf.function step + XLA",
         "seq_per_s": 12.0, "blocks": [12.0, 11.0, 13.5]},
        {"model": "minilm", "kind": "infer", "variant": "keras-hub BertBackbone",
         "seq_per_s": 40.0, "blocks": [40.0, 40.0, 40.0]},
        {"model": "minilm", "kind": "infer", "variant": "tfbert BertEncoder",
         "seq_per_s": 50.0, "blocks": [50.0, 49.0, 52.0]}],
    "markdown": "| ... |"}


def _variant(mb, size_vs_fp32, ms, vs_anchor, accuracy):
    timing = {"max_abs_diff": 1e-6, "top1_agree": 1.0, "median_ms": ms, "spread_ms": 1.5,
              "round_medians_ms": [ms], "vs_anchor": vs_anchor}
    return {"bytes": int(mb * 1e6), "mb": mb, "threads_1": timing, "size_vs_fp32": size_vs_fp32,
            "accuracy": accuracy, "macro_f1": accuracy - 1}


EXPORT = {  # bench_export.py --eval-data
    "info": {"source": "/somewhere/bbc-minilm", "calibration_texts": 64, "check_texts": 9,
             "eval": {"data": "/somewhere/test.jsonl", "examples": 204, "max_length": 128,
                      "model_max_length": 256, "keras": {"accuracy": 96.08, "macro_f1": 95.9}}},
    "args": {"model": "/somewhere/bbc-minilm", "threads": [1], "rounds": 3, "calls": 30},
    "wall_s": 249.0, "load_avg": [[0.8, 1.4, 1.7], [1.4, 1.4, 1.6]], "tensorflow": "2.21.0",
    "results": {"tflite fp32": _variant(90.3, 1.0, 56.0, 2.8, 96.08),
                "tflite dynamic": _variant(23.1, 0.256, 10.0, 0.5, 95.1),
                "onnxruntime int8": _variant(23.8, 0.262, 20.0, 1.0, 94.12)}}
PRETRAIN = {  # bench_pretrain_data.py
    "args": {"small_mb": 20, "large_mb": 300, "vocab": None, "json": "x"}, "cpus": 2,
    "rows": [{"corpus": "small", "mb": 20.0, "seconds": 10.0, "mb_per_s": 2.0,
              "peak_rss_mb": 500.0},
             {"corpus": "large", "mb": 300.0, "seconds": 100.0, "mb_per_s": 3.0,
              "peak_rss_mb": 550.0}]}
STARTUP = {  # bench_startup.py
    "args": {"runs": 3, "warmup": 1, "json": "x"}, "anchor": "import tensorflow",
    "cpu": {"model": "Test CPU", "cores": 2,
            "flags": {"avx512f": True, "avx512_bf16": False, "amx_tile": False}},
    "rows": [{"command": "import tensorflow", "seconds": [4.0, 5.0, 6.0], "median_s": 5.0,
              "spread_s": 2.0},
             {"command": "tfbert --help", "seconds": [0.2, 0.25, 0.3], "median_s": 0.25,
              "spread_s": 0.1}]}
BEAM = {"args": {"sizes": [20.0], "rounds": 2}, "cpu": {"model": "Test CPU", "flags": ["avx2"],
                                                       "cpus": 2},
        "summary": [{"mb": 20.0, "config": "single process", "median_mb_per_s": 0.5,
                     "ratio": 1.0, "driver_peak_mb": 900.0, "worker_peak_mb": 0},
                    {"mb": 20.0, "config": "beam direct, 2 workers", "median_mb_per_s": 0.9,
                     "ratio": 1.8, "driver_peak_mb": 950.0, "worker_peak_mb": 1000.0}]}
STREAM = {"args": {"small": 10, "large": 100}, "cpu": {"model": "Test CPU", "flags": ["avx2"]},
          "rows": [{"input": "small", "lines": 10, "mb": 0.1, "seconds": 2.0,
                    "lines_per_s": 5.0, "peak_rss_mb": 800.0},
                   {"input": "large", "lines": 100, "mb": 1.0, "seconds": 4.0,
                    "lines_per_s": 25.0, "peak_rss_mb": 820.0}]}
def _accel(seq_per_s, vs_anchor, mfu, name="NVIDIA H200"):
    return {"status": "ok", "rounds_seq_per_s": [seq_per_s - 10, seq_per_s, seq_per_s + 30],
            "seq_per_s": seq_per_s, "spread": 40.0, "tflops": seq_per_s * 0.07,
            "mfu": mfu, "vs_anchor": vs_anchor, "warmup_s": 42.0,
            "device": {"platform": "gpu", "name": name, "count": 1},
            "peak_source": "NVIDIA datasheet, dense bf16, matched 'H100|H200|GH200'"}


ACCELERATOR = {  # bench_accelerator.py: 70 GFLOP per sequence, so 5000 seq/s = 350 TFLOP/s
    "command": "tools/bench_accelerator.py --json x.json", "precision": "mixed bfloat16",
    "args": {"config": "base", "vocab": 30522, "batch": 256, "seq": 128, "masked": 20,
             "warmup": 3, "steps": 20, "rounds": 3, "variants": ["tfbert-jax"]},
    "config": {"num_layers": 12, "hidden_size": 768, "num_heads": 12, "vocab_size": 30522},
    "flops_per_sequence": {"forward": 23.3e9, "train": 69.9e9},
    "palm_gflop_per_sequence": 86.374, "devices": ["NVIDIA H200"], "same_device": True,
    "host": {"cpu": {"model": "Test CPU", "cores": 16, "flags": ["avx2"]}},
    "anchor": "hf-compile", "ratio": 1.25,
    "variants": {"tfbert-jax": _accel(5000.0, 1.25, 0.3534),
                 "keras-hub-jax": _accel(3600.0, 0.9, 0.2544),
                 "hf-eager": {"status": "failed", "reason": "exit 1: CUDA error"},
                 "hf-compile": _accel(4000.0, 1.0, 0.2827)}}
FIXTURES = {"training": TRAINING, "tokenizer": TOKENIZER, "encoder": ENCODER,
            "export": EXPORT, "pretrain-data": PRETRAIN, "startup": STARTUP,
            "beam-pretrain-data": BEAM, "predict-stream": STREAM, "accelerator": ACCELERATOR}


def _run(quick=False):
    return {"command": ".venv/bin/python tools/bench_x.py --json runs/benchmarks/x.json",
            "started": "2025-01-02 03:04 UTC", "wall_s": 60.0,
            "load_avg": [[0.5, 0.6, 0.7], [1.5, 1.2, 0.9]], "quick": quick}


def _write(results, names, quick=False):
    os.makedirs(results, exist_ok=True)
    for name in names:
        with open(os.path.join(results, f"{name}.json"), "w") as f:
            json.dump(FIXTURES[name], f)
    machine = {"cpu": "Test CPU @ 2.50GHz", "cores": 2,
               "flags": {"avx512f": True, "avx512_bf16": False}, "ram_gib": 23.4,
               "python": "3.11.9", "versions": {"TensorFlow": "2.21.0", "keras-hub": "0.32.0"}}
    with open(os.path.join(results, "run.json"), "w") as f:
        json.dump({"machine": machine, "command": "REGENERATE",
                   "runs": {n: _run(quick) for n in names}}, f)


@pytest.fixture
def rendered(tmp_path):
    _write(tmp_path, FIXTURES)
    return benchmarks.render(str(tmp_path), "RERUN")


def test_header_and_machine(rendered):
    assert rendered.startswith("# Benchmarks\n")
    assert "    REGENERATE\n" in rendered
    assert "total wall time 9.0 min (9 of 9 benchmarks" in rendered  # 9 x 60 s
    assert "| CPU | Test CPU @ 2.50GHz |" in rendered
    assert "avx512f yes, avx512_bf16 **no**" in rendered
    assert "| load average (1 / 5 / 15 min), first start → last end | 0.50 / 0.60 / 0.70 → " \
           "1.50 / 1.20 / 0.90 |" in rendered
    assert "| keras-hub | 0.32.0 |" in rendered
    assert "QUICK SMOKE RUN" not in rendered


def test_training_ratio_to_best_keras_hub_fit(rendered):
    assert "Anchor: **keras-hub fit (jit_compile=auto)**" in rendered
    assert "| tfbert Trainer | 9.00 | 1.50 | 0.75 |" in rendered  # 9 / 12; 9.5 - 8
    assert "| keras-hub fit (jit_compile=False) | 10.00 | 2.00 | 0.83 |" in rendered


def test_tokenizer_ratio_to_tokenizers(rendered):
    # 1000 texts, 2 MB: tfbert 2.0 s -> 500 texts/s, tokenizers 1.0 s -> 1,000 texts/s.
    assert ("| english news | 1000 | 2.00 | 500 | 1.00 | 2.000 (0.600) | 1,000 | 2.00 | "
            "1.000 (0.200) | 0.50 |") in rendered


def test_encoder_ratio_per_kind(rendered):
    assert "| minilm | train | tfbert, tf.function step + XLA | 12.00 | 2.50 | 1.50 |" in rendered
    assert "| minilm | infer | tfbert BertEncoder | 50.00 | 3.00 | 1.25 |" in rendered
    assert "| minilm | infer | keras-hub BertBackbone | 40.00 | 0.00 | 1.00 |" in rendered


def test_export_sizes_latency_and_accuracy(rendered):
    assert "| variant | MB | size / fp32 | 1 thr ms (spread) | ÷ ORT int8 @1 thr |" in rendered
    assert "| tflite dynamic | 23.1 | 0.256 | 10.0 (1.5) | 0.50 | 1e-06 | 1.00 | 95.10 | " \
           "94.10 |" in rendered
    assert "the Keras model on the same inputs: accuracy 96.08 %" in rendered
    assert "cut to 128 pieces (the model's own length is 256)" in rendered


def test_pretrain_data_ratio_to_small_corpus(rendered):
    assert "| large | 300.0 | 100.0 | 3.00 | 1.50 | 550 | 1.10 |" in rendered


def test_startup_ratio_to_import_tensorflow(rendered):
    assert "| `tfbert --help` | 0.250 | 0.100 | 0.05 |" in rendered   # 0.25 / 5
    assert "Test CPU, 2 cores; avx512f yes, avx512_bf16 **no**, amx_tile **no**." in rendered
    assert "median of 3 runs" in rendered


def test_missing_json_says_how_to_produce_it(tmp_path):
    _write(tmp_path, ["training"])
    text = benchmarks.render(str(tmp_path), "RERUN")
    assert "| tfbert Trainer | 9.00 |" in text
    assert f"_Not measured: there is no `{tmp_path}/export.json`._" in text
    assert "Produce it with `RERUN --only export`" in text
    assert "(1 of 9 benchmarks" in text


def test_beam_and_stream_sections(rendered):
    assert "| 20.0 | beam direct, 2 workers | 0.90 | 1.80 | 950 | 1000 |" in rendered
    assert "| 20.0 | single process | 0.50 | 1.00 | 900 | (in the driver) |" in rendered
    assert "| large | 100 | 1.0 | 4.0 | 25 | 820 | 1.025 |" in rendered


def test_accelerator_table_mfu_and_ratio_to_the_anchor(rendered):
    assert "Device: **NVIDIA H200**; host CPU Test CPU, 16 cores, flags avx2." in rendered
    assert "Anchor: **HF torch.compile**" in rendered
    assert "FLOPs per trained sequence: 69.900 G" in rendered
    assert "6·N·S + 12·L·H·S² would give 86.374 G" in rendered
    assert "| tfbert (JAX) | 5000.0 | 40.0 | 350.000 | 35.3 % | 1.25 | 42 |" in rendered
    assert "| HF torch.compile | 4000.0 | 40.0 | 280.000 | 28.3 % | 1.00 | 42 |" in rendered
    assert "| HF torch eager | failed: exit 1: CUDA error | | | | | |" in rendered
    assert "≥ 5,500 seq/s, ≥ 1.4× the best anchor, ≥ 50 % MFU" in rendered


def test_a_section_without_json_is_kept_from_the_previous_file_and_marked(tmp_path):
    _write(tmp_path / "old", FIXTURES)
    previous = benchmarks.render(str(tmp_path / "old"), "RERUN")
    _write(tmp_path / "new", ["startup"])
    text = benchmarks.render(str(tmp_path / "new"), "RERUN", previous)
    assert "| tfbert Trainer | 9.00 |" in text            # training: kept
    assert text.count("_Kept from an earlier run") == len(FIXTURES) - 1
    assert "## Machine of the kept sections" in text
    assert "_Not measured" not in text
    again = benchmarks.render(str(tmp_path / "new"), "RERUN", text)
    assert again.count("_Kept from an earlier run") == len(FIXTURES) - 1   # marked once


def test_quick_run_is_flagged_at_the_top(tmp_path):
    _write(tmp_path, ["training", "tokenizer"], quick=True)
    text = benchmarks.render(str(tmp_path), "RERUN")
    assert text.splitlines()[2].startswith("> **QUICK SMOKE RUN**")
    assert "NOT meaningful" in text
    assert text.count("**Quick smoke settings: these figures are not meaningful.**") == 2


def test_unreadable_json_names_the_file_instead_of_failing(tmp_path):
    _write(tmp_path, ["pretrain-data"])
    with open(tmp_path / "pretrain-data.json", "w") as f:
        json.dump({"args": {}, "rows": []}, f)
    text = benchmarks.render(str(tmp_path), "RERUN")
    assert "_Could not read" in text and "--only pretrain-data" in text


def test_render_only_writes_the_output(tmp_path):
    _write(tmp_path / "results", ["encoder"])
    out = tmp_path / "B.md"
    benchmarks.main(["--render-only", "--results", str(tmp_path / "results"),
                     "--output", str(out)])
    assert "| minilm | infer | tfbert BertEncoder | 50.00 | 3.00 | 1.25 |" in out.read_text()


def test_missing_demo_model_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match="run `tfbert demo --english`"):
        benchmarks.main(["--only", "export", "--model", str(tmp_path / "none"),
                         "--results", str(tmp_path), "--output", str(tmp_path / "B.md")])
    assert not (tmp_path / "B.md").exists()


def test_unknown_benchmark_is_rejected(capsys):
    with pytest.raises(SystemExit):
        benchmarks.main(["--only", "training,nope", "--render-only"])
    assert "unknown benchmark 'nope'" in capsys.readouterr().err


def test_export_throughput_batching_and_savedmodel_target():
    """bench_export.py's batch-32 rows, its TF Serving batching replay and the SavedModel's
    ratio to ONNX Runtime fp32, from the JSON keys it writes."""
    def timing(ms, batch_ms=None):
        row = {"median_ms": ms, "spread_ms": 1.0, "vs_anchor": 1.0, "max_abs_diff": 1e-7,
               "top1_agree": 1.0}
        if batch_ms:
            row["batch_32"] = {"median_ms": batch_ms, "spread_ms": 2.0,
                               "texts_per_s": round(32e3 / batch_ms, 1),
                               "vs_onnxruntime_fp32": round(batch_ms / 1000.0, 3)}
        return row

    def variant(ms, batch_ms=None, **extra):
        return {"mb": 90.0, "size_vs_fp32": 1.0, "threads_1": timing(ms, batch_ms), **extra}

    served = {"requests_per_s": 30.0, "latency_p50_ms": 500.0, "latency_p99_ms": 900.0,
              "mean_batch": 12.5, "refused": 0}
    data = {"info": {"source": "/x/minilm", "check_texts": 9, "batching_parameters": {
                "file": "/x/batching_params.pbtxt", "max_batch_size": 32,
                "batch_timeout_micros": 2000, "num_batch_threads": 1,
                "max_enqueued_batches": 100, "allowed_batch_sizes": [], "clients": 32,
                "requests": 256, "threads": 1}},
            "args": {"model": "", "threads": [1], "rounds": 3, "calls": 30, "batch": 32,
                     "batch_calls": 5},
            "results": {"tf savedmodel fp32": variant(30.0, 800.0, batching={
                            "batched": served, "unbatched": {**served, "mean_batch": 1.0}}),
                        "onnxruntime fp32": variant(40.0, 1000.0),
                        "onnxruntime int8": variant(20.0)}}
    text = "\n".join(benchmarks.export_section(data))
    assert "tf savedmodel fp32 0.75 @1 thr" in text             # 30 / 40
    assert "| tf savedmodel fp32 | 40.0 | 800 (2) | 0.80 |" in text
    assert "| tf savedmodel fp32 | batched | 30.0 | 500 | 900 | 12.5 | 0 |" in text
    assert "allowed_batch_sizes any" in text and "untrained head" in text
