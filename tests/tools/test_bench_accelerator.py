"""tools/bench_accelerator.py: the FLOPs count, the peak table, the anchor and ratios
(worked out by hand), its flags, an import of the tfbert path without TensorFlow, and one
CPU smoke run of tfbert against HF eager (the four variants together: slow)."""

import json
import math
import os
import subprocess
import sys

import pytest

from tools import bench_accelerator as bench

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE = dict(num_layers=12, hidden_size=768, num_heads=12, intermediate_size=3072,
            vocab_size=30522, max_position_embeddings=512, type_vocab_size=2)
# A micro BERT: 2 layers of 128, 512 word pieces, batch 4 of 16 tokens; seconds per variant.
MICRO = ["--config", "tiny", "--vocab", "512", "--batch", "4", "--seq", "16", "--masked", "3",
         "--warmup", "1", "--steps", "2", "--rounds", "2"]


def test_flops_of_bert_base_by_hand():
    flops = bench.flops_per_sequence(BASE, seq=128, masked=20)
    assert flops["forward_terms"] == {
        "encoder_matmuls": 2 * 128 * 12 * (4 * 768**2 + 2 * 768 * 3072),   # 21.74 G
        "attention_scores": 12 * 4 * 128**2 * 768,                          # 0.60 G
        "mlm_head": 2 * 20 * (768**2 + 768 * 30522),                        # 0.96 G
        "pooler_nsp": 2 * (768**2 + 2 * 768)}
    assert flops["forward"] == 23_309_663_232
    assert flops["train"] == 3 * 23_309_663_232
    # 6·N·S + 12·L·H·S², N = 110.1 M parameters (BertForPreTraining's count).
    assert bench.palm_flops(BASE, 128) / 1e9 == pytest.approx(86.37, abs=0.01)


@pytest.mark.parametrize("name, peak", [
    ("NVIDIA H100 80GB HBM3", 989e12), ("NVIDIA H200", 989e12), ("NVIDIA H100 PCIe", 756e12),
    ("NVIDIA H100 NVL", 835e12), ("NVIDIA A100-SXM4-80GB", 312e12), ("NVIDIA L40S", 362e12),
    ("NVIDIA L4", 121e12), ("NVIDIA A10G", 125e12), ("Tesla T4", None)])
def test_peak_by_device_name(name, peak):
    found, source = bench.peak_bf16({"platform": "gpu", "name": name})
    assert found == peak
    assert source.startswith("unknown" if peak is None else "NVIDIA datasheet")


def test_cpu_peak_is_unknown_and_says_why():
    peak, source = bench.peak_bf16({"platform": "cpu", "name": "cpu"})
    assert peak is None and source.startswith("unknown: a CPU's bf16 rate")


def _ok(rates, name="NVIDIA H200"):
    return {"status": "ok", "rounds_seq_per_s": rates,
            "device": {"platform": "gpu", "name": name, "count": 1}}


def test_ratio_is_to_the_fastest_anchor_and_mfu_to_the_peak():
    results = {"tfbert-jax": _ok([5000.0, 6000.0, 5500.0]),
               "keras-hub-jax": _ok([3700.0, 3800.0, 3600.0]),
               "hf-eager": _ok([2800.0, 2900.0, 2700.0]),
               "hf-compile": _ok([4000.0, 3900.0, 4100.0]),
               }
    summary = bench.summarise(results, flops_train=90e9)
    assert summary == {"anchor": "hf-compile", "ratio": pytest.approx(5500 / 4000)}
    tfbert = results["tfbert-jax"]
    assert tfbert["seq_per_s"] == 5500.0 and tfbert["spread"] == 1000.0
    assert tfbert["tflops"] == pytest.approx(495.0)                    # 5500 × 90 G
    assert tfbert["mfu"] == pytest.approx(495 / 989)
    assert results["hf-eager"]["vs_anchor"] == pytest.approx(2800 / 4000)
    assert results["hf-compile"]["vs_anchor"] == 1.0


def test_a_missing_anchor_is_left_out_and_none_leaves_no_ratio():
    results = {"tfbert-jax": _ok([10.0]), "hf-eager": _ok([5.0]),
               "hf-compile": {"status": "skipped", "reason": "torch is not installed"}}
    assert bench.summarise(results, 1e9)["anchor"] == "hf-eager"
    alone = {"tfbert-jax": _ok([10.0])}
    assert bench.summarise(alone, 1e9) == {"anchor": None, "ratio": None}
    assert "| n/a |" in bench.table(alone, None)[-1]


@pytest.mark.parametrize("argv, flag", [
    (["--masked", "128"], "--masked must be below --seq"), (["--config", "huge"], "--config"),
    (["--variants", "tfbert-jax,nope"], "--variants: unknown variant 'nope'"),
    (["--batch", "0"], "--batch")])
def test_bad_input_is_one_line_naming_the_flag(argv, flag, capsys):
    with pytest.raises(SystemExit):
        bench.parse(argv)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert flag in err


def test_tfbert_path_imports_no_tensorflow():
    code = ("import sys; import tools.accelerator_variants; import tfbert.config, "
            "tfbert.modeling, tfbert.training.jax_steps, tfbert.training.losses, "
            "tfbert.training.optimization; import keras; "
            "print(keras.backend.backend(), 'tensorflow' in sys.modules)")
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["jax", "False"]


def check_report(report, written, variants):
    assert written["anchor"] == report["anchor"]
    assert list(written["variants"]) == variants
    assert written["flops_per_sequence"]["train"] == 3 * written["flops_per_sequence"]["forward"]
    assert written["host"]["cpu"]["model"] and written["devices"] == ["cpu"]
    anchors = {n: r["seq_per_s"] for n, r in written["variants"].items() if n in bench.ANCHORS}
    assert written["anchor"] == max(anchors, key=anchors.get)
    for name, row in written["variants"].items():
        assert row["status"] == "ok", row
        assert row["seq_per_s"] > 0 and len(row["rounds_seq_per_s"]) == 2
        assert row["vs_anchor"] == pytest.approx(row["seq_per_s"] / anchors[written["anchor"]])
        assert row["tflops"] == pytest.approx(
            row["seq_per_s"] * written["flops_per_sequence"]["train"] / 1e12)
        assert row["mfu"] is None and row["peak_source"].startswith("unknown")
        # Random targets: the loss starts near ln(vocab) (+ ln 2 with next-sentence).
        assert 0.8 * math.log(512) < row["loss_after_warmup"] < 1.2 * (math.log(512) + 1)
        assert row["how"] and row["versions"]
    assert written["ratio"] == written["variants"]["tfbert-jax"]["vs_anchor"]


def test_a_cpu_smoke_run_writes_the_json(tmp_path):
    pytest.importorskip("jax")
    pytest.importorskip("torch")
    path = tmp_path / "accelerator.json"
    report = bench.main(MICRO + ["--variants", "tfbert-jax,hf-eager", "--json", str(path)])
    check_report(report, json.loads(path.read_text()), ["tfbert-jax", "hf-eager"])


@pytest.mark.slow
def test_all_four_variants_run_on_cpu(tmp_path):
    pytest.importorskip("keras_hub")
    pytest.importorskip("transformers")
    path = tmp_path / "accelerator.json"
    report = bench.main(MICRO + ["--json", str(path)])
    check_report(report, json.loads(path.read_text()), list(bench.VARIANTS))
