"""TFLite export: every variant is run by LiteRT (the tf-text registrar for in-model
tokenizers) and compared with the Keras model; `tfbert predict` on the file answers as on
the model directory; impossible requests fail in one line and write nothing."""

import json
import os

import numpy as np
import pytest

from tfbert.export import tflite, tflite_report
from tfbert.predict.tflite import LitePredictor
from tfbert.predict.keras_model import KerasPredictor

# Texts that tf-text's NFKD normaliser and tfbert's exact one tokenize alike (no
# fullwidth punctuation or compatibility characters), so in-model outputs must equal Keras.
PLAIN = ["Hello world, Paris is nice!", "我爱北京天安门", "John Smith went to New York.",
         "Shares in the company rose 5 percent after the results."]


def _records(task):
    if task == "qa":
        return [{"question": "Who went where?", "context": t} for t in PLAIN]
    if task == "pair":
        return [{"text": t, "pair": PLAIN[-1 - i]} for i, t in enumerate(PLAIN)]
    return [{"text": t} for t in PLAIN]


def _close(got, expected, task):
    assert [sorted(r) for r in got] == [sorted(r) for r in expected]
    for a, b in zip(got, expected):
        if task in ("classify", "pair"):
            assert a["label"] == b["label"]
            np.testing.assert_allclose(list(a["probabilities"].values()),
                                       list(b["probabilities"].values()), atol=1e-5)
        elif task == "ner":
            assert [(e["type"], e["start"], e["end"]) for e in a["entities"]] == [
                (e["type"], e["start"], e["end"]) for e in b["entities"]]
            assert a["tags"] == b["tags"]
        else:
            assert (a["answer"], a["start"], a["end"]) == (b["answer"], b["start"], b["end"])
            assert a["score"] == pytest.approx(b["score"], rel=1e-5, abs=1e-5)  # a logit sum


@pytest.mark.parametrize("task,kind", [("classify", "metadata"), ("classify", "in-model"),
                                       ("pair", "in-model"), ("ner", "in-model"),
                                       ("qa", "in-model")])
def test_float_export_matches_keras(model_dirs, tmp_path, task, kind):
    out = str(tmp_path / f"{task}.tflite")
    result = tflite.export_tflite(model_dirs[task], out, "none", kind)
    # float32 both sides, summed in other orders by XNNPACK and TensorFlow's kernels, which
    # differ by CPU: below 1e-5 with AVX-512 (Intel Xeon), 1.07e-5 on an AVX2-only AMD EPYC
    # (qa n-best scores of 1.3 inside a model whose activations are in the tens: 8e-6
    # relative). A lost or transposed weight differs by 1e-1 and more.
    assert result["max_abs_difference_vs_tensorflow"] <= 2e-5
    assert os.path.getsize(out) == result["bytes"]
    records = _records(task)
    _close(LitePredictor(out).predict(records), KerasPredictor(model_dirs[task]).predict(records),
           task)


@pytest.mark.slow
def test_quantized_variants_and_report(model_dirs, tmp_path):
    calibration = [{"text": f"{t} {i}"} for i in range(10) for t in PLAIN]
    # Labelled with the Keras model's own answers: the float variant scores 100 %.
    texts = PLAIN + [r["text"] for r in calibration[::7]]
    evaluation = [{"text": r["text"], "label": r["label"]}
                  for r in KerasPredictor(model_dirs["classify"]).predict([{"text": t}
                                                                      for t in texts])]
    out = str(tmp_path / "classifier.tflite")
    result = tflite.export_tflite(model_dirs["classify"], out, "int8", "metadata",
                                         calibration, evaluation, latency_runs=3)
    # The attention internals and LayerNorms stay float; every weight is int8.
    assert {"SOFTMAX", "BATCH_MATMUL", "RSQRT"} <= set(result["float_ops"])
    assert "FULLY_CONNECTED" not in result["float_ops"]
    report = json.load(open(str(tmp_path / "classifier.quantization.json")))
    variants = {v["quantize"]: v for v in report["variants"]}
    assert list(variants) == ["none", "fp16", "dynamic", "int8"]
    assert variants["none"]["accuracy"] == 100.0
    assert variants["fp16"]["size_vs_float"] < 0.6
    assert variants["dynamic"]["size_vs_float"] < 0.35
    assert variants["int8"]["size_vs_float"] < 0.35
    for v in variants.values():
        assert v["latency_ms_1_thread"] > 0 and v["latency_ms_2_threads"] > 0
    markdown = open(str(tmp_path / "classifier.quantization.md")).read()
    assert "| int8 |" in markdown and "Ops that stay float" in markdown
    # The int8 file itself agrees with the Keras model on most inputs.
    got = LitePredictor(out).predict(evaluation)
    agree = np.mean([r["label"] == e["label"] for r, e in zip(got, evaluation)])
    assert agree >= 0.75
    # Each variant's ECE is that of the probabilities its file gives (the int8 one: the
    # predictor's), and the exported variant's reliability diagram is written beside it.
    from tfbert.evaluation import expected_calibration_error

    labels = list(KerasPredictor(model_dirs["classify"]).labels)
    probabilities = [[r["probabilities"][name] for name in labels] for r in got]
    truth = [labels.index(e["label"]) for e in evaluation]
    assert variants["int8"]["ece"] == pytest.approx(
        expected_calibration_error(probabilities, truth), abs=1e-6)
    assert all(0 <= v["ece"] <= 1 and sum(b["count"] for b in v["reliability"].values())
               == len(evaluation) for v in variants.values())
    assert "| ECE |" in markdown and f"{variants['int8']['ece']:.4f}" in markdown
    assert open(str(tmp_path / "classifier.quantization_reliability.png"), "rb").read(8) \
        == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_int8_keeps_mean_pooling_in_float(tmp_path):
    """The average over up to max_length positions stays float in an int8 model: one int8
    scale for a sum that grows with the length would not resolve short texts. The dtype
    check is what catches a quantized mean; the probability comparison after it only says
    that the file answers as the Keras model does within int8's error (at this size it
    cannot tell a quantized mean from a float one)."""
    import keras

    from tests.export.conftest import VOCAB
    from tfbert.config import BertConfig
    from tfbert.export.tflite_convert import make_interpreter
    from tfbert.model_dir import build_model, save_model_dir
    from tfbert.task import TaskSpec

    config = BertConfig(vocab_size=30522, hidden_size=32, num_layers=2, num_heads=2,
                        intermediate_size=64, max_position_embeddings=64, initializer_range=0.5)
    spec = TaskSpec(task="classify", labels=("a", "b", "c"), max_length=32, pooling="mean")
    keras.utils.set_random_seed(0)
    save_model_dir(build_model(config, spec), config, spec, str(tmp_path / "m"), VOCAB)
    out = str(tmp_path / "mean-int8.tflite")
    calibration = [{"text": f"{t} {i}"} for i in range(10) for t in PLAIN]
    tflite.export_tflite(str(tmp_path / "m"), out, "int8", "metadata", calibration)
    with open(out, "rb") as f:
        details = make_interpreter(f.read(), delegates=False).get_tensor_details()
    # Activations, that is: the int32 tensors are shape constants.
    pooling = [t for t in details if "mean_pooling" in t["name"] and t["dtype"] != np.int32]
    assert len(pooling) >= 4 and all(t["dtype"] == np.float32 for t in pooling), pooling
    records = [{"text": t} for t in PLAIN] + calibration[::7]
    got = LitePredictor(out).predict(records)
    expected = KerasPredictor(str(tmp_path / "m")).predict(records)
    # The untrained classes are near-tied, so labels may flip; probabilities stay close
    # (0.056 at most, measured).
    np.testing.assert_allclose([list(a["probabilities"].values()) for a in got],
                               [list(b["probabilities"].values()) for b in expected], atol=0.1)


def test_report_flags_variants_that_lose_more_than_a_point():
    def variant(name, size, accuracy):
        return {"quantize": name, "bytes": size, "accuracy": accuracy}

    report = tflite_report.judge({"variants": [
        variant("none", 100, 90.0), variant("dynamic", 26, 89.2), variant("int8", 25, 88.5)]})
    verdict = {v["quantize"]: (v["recommended"], round(v["accuracy_change"], 2),
                               v["size_vs_float"]) for v in report["variants"]}
    assert verdict == {"none": (True, 0.0, 1.0), "dynamic": (True, -0.8, 0.26),
                       "int8": (False, -1.5, 0.25)}


def test_impossible_requests_write_nothing(model_dirs, tmp_path):
    out = str(tmp_path / "x.tflite")
    cases = [
        (dict(model_dir=model_dirs["ner"], tokenizer="metadata"), "single-text classifiers"),
        (dict(model_dir=model_dirs["pretrain"], tokenizer="in-model"), "in-model supports"),
        (dict(model_dir=model_dirs["classify"], quantize="int8", tokenizer="in-model"),
         "int8 needs --tokenizer metadata"),
        (dict(model_dir=model_dirs["classify"], quantize="int8", tokenizer="metadata",
              calibration=[{"text": "too few"}] * 5), "at least 32"),
        (dict(model_dir=str(tmp_path), tokenizer="in-model"), "not a BERT checkpoint"),
        (dict(model_dir=model_dirs["classify"], tokenizer="metadata",
              evaluation=[{"text": "a", "label": "weather"}]), "is not one of the model's labels"),
        (dict(model_dir=model_dirs["ner"], tokenizer="in-model",
              evaluation=[{"text": "a", "label": "O"}]), "scores classify and pair"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            tflite.export_tflite(out=out, **kwargs)
        assert not os.listdir(str(tmp_path))
    with pytest.raises(ValueError, match="must name a .tflite file"):
        tflite.export_tflite(model_dirs["classify"], str(tmp_path / "x.bin"))


@pytest.mark.slow   # a conversion: ~40 s on 2 busy cores
def test_qa_n_best_and_null_threshold_match_keras(model_dirs, tmp_path):
    from tests.export.conftest import planted_null_model

    records = _records("qa") + [{"question": "Who?", "context": "Paris."}]
    path, threshold, margins = planted_null_model(model_dirs["qa"], records,
                                                  tmp_path / "qa-null")
    out = str(tmp_path / "qa.tflite")
    tflite.export_tflite(path, out, "none", "in-model", n_best=4)
    got = LitePredictor(out, n_best=4).predict(records)
    expected = KerasPredictor(path, n_best=4).predict(records)
    assert [a["answer"] == "" for a in expected] == [m > threshold for m in margins]
    assert 0 < sum(m > threshold for m in margins) < len(records)
    for a, b in zip(got, expected):
        assert (a["answer"], a["start"], a["end"]) == (b["answer"], b["start"], b["end"])
        assert a["score"] == pytest.approx(b["score"], abs=1e-5)   # None: no answer
        assert [(n["answer"], n["start"], n["end"]) for n in a["n_best"]] == \
            [(n["answer"], n["start"], n["end"]) for n in b["n_best"]]
        np.testing.assert_allclose([n["score"] for n in a["n_best"]],
                                   [n["score"] for n in b["n_best"]], atol=1e-5)
    assert len(got[-1]["n_best"]) == 3     # "Paris.": two pieces, three spans
    with pytest.raises(ValueError, match="lists 4 answers per question"):
        LitePredictor(out, n_best=5)
