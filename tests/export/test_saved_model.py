"""SavedModel export: every task's signatures, loaded in a fresh process with only
tensorflow and tensorflow_text imported (what TF Serving links), answer as the Keras model
and `tfbert predict` do; versions are published whole and never touch earlier ones."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.export.conftest import TEXTS
from tests.export.test_saved_model_warmup import replayed
from tfbert.export import saved_model_ops
from tfbert.predict import load_predictor
from tfbert.export.saved_model import export_saved_model, load_task_model
from tfbert.export.saved_model_warmup import batches, builtin_rows
from tfbert.predict.keras_model import KerasPredictor

LOADER = """
import json, sys
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401
def listed(v):
    if v.dtype != tf.string:
        return v.numpy().tolist()
    return np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(v.numpy()).tolist()
calls = json.loads(sys.stdin.read())
out = {}
for path, signature, inputs in calls:
    model = tf.saved_model.load(path)
    fn = model.signatures[signature]
    args = {k: tf.constant(v, tf.string if isinstance(v[0], str) else tf.int32)
            for k, v in inputs.items()}
    result = fn(**args)
    out[path + "|" + signature] = {k: listed(v) for k, v in result.items()}
print(json.dumps(out))
"""


def _records(task):
    if task == "qa":
        # The last context is several windows long (room 25 pieces, stride 8).
        long_context = " ".join(TEXTS * 3)
        return [{"question": "Where is it?", "context": t} for t in TEXTS + [long_context]]
    if task == "pair":
        return [{"text": t, "pair": TEXTS[-1 - i]} for i, t in enumerate(TEXTS)]
    if task == "pretrain":
        return [{"text": t} for t in ("Hello [MASK] world.", "the [MASK] is [MASK] today",
                                      "[MASK]", "北京[MASK]安门")]
    if task == "ner":
        # The last is longer than max_length (24 pieces): its words past the window are
        # cut the same way in every runtime.
        return [{"text": t} for t in TEXTS + [" ".join(TEXTS[2:])]]
    return [{"text": t} for t in TEXTS]


def test_long_qa_context_spans_several_windows(model_dirs):
    from tfbert.data.features import encode_qa
    from tfbert.data.readers import QAExample

    tokenizer, spec = load_task_model(model_dirs["qa"])[1:3]
    record = _records("qa")[-1]
    _, _, windows = encode_qa(tokenizer, [QAExample("0", record["question"],
                                                    record["context"], ())],
                              spec.max_length, spec.doc_stride, spec.max_query_length)
    assert len(windows["example_index"]) > 3


def _serving_inputs(task, records):
    if task == "qa":
        return {"question": [r["question"] for r in records],
                "context": [r["context"] for r in records]}
    if task == "pair":
        return {"text": [r["text"] for r in records], "text_pair": [r["pair"] for r in records]}
    return {"text": [r["text"] for r in records]}


@pytest.fixture(scope="module")
def exported(model_dirs, tmp_path_factory):
    base = str(tmp_path_factory.mktemp("savedmodels"))
    return base, {task: export_saved_model(path, task, base) for task, path in
                  model_dirs.items()}


@pytest.mark.slow
def test_fresh_process_signatures_match_keras_and_predict(model_dirs, exported):
    _, paths = exported
    tokenizer = load_task_model(model_dirs["classify"])[1]
    ids = tokenizer(TEXTS, max_length=32, pad_to_max_length=True)
    calls = []
    for task, path in paths.items():
        calls.append([path, "serving_default", _serving_inputs(task, _records(task))])
        encode = {k: v.tolist() for k, v in ids.items()}
        if task == "pretrain":
            encode["masked_positions"] = [[1, 2]] * len(TEXTS)
        calls.append([path, "encode", encode])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH="")
    done = subprocess.run([sys.executable, "-c", LOADER], input=json.dumps(calls),
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])
    for task, path in paths.items():
        model = load_task_model(model_dirs[task])[0]
        inputs = dict(ids)
        if task == "pretrain":
            inputs["masked_positions"] = np.array([[1, 2]] * len(TEXTS), "int32")
        expected = model(inputs, training=False)
        for key, value in expected.items():
            np.testing.assert_allclose(served[path + "|encode"][key], np.asarray(value),
                                       atol=1e-5, err_msg=f"{task} encode {key}")
        out = served[path + "|serving_default"]
        keras_path = KerasPredictor(model_dirs[task]).predict(_records(task))
        if task in ("classify", "pair"):
            np.testing.assert_allclose(
                out["probabilities"], [list(r["probabilities"].values()) for r in keras_path],
                atol=1e-5, err_msg=task)
            assert out["label_names"] == [r["label"] for r in keras_path]
        elif task == "ner":
            from tfbert.tokenization.normalize import split_words

            records = _records(task)
            assert len(keras_path) == 5
            found = []
            for i, record in enumerate(keras_path):
                words = out["num_words"][i]
                if i == 4:
                    # Cut: the graph tags the words of the first window only, and answers
                    # as the Python path does for the text up to the last of them.
                    text = records[i]["text"]
                    assert words < len(record["tags"]) == len(split_words(text))
                    record = KerasPredictor(model_dirs[task]).predict(
                        [{"text": text[:split_words(text)[words - 1][2]]}])[0]
                got = [(out["entity_types"][i][k], out["entity_texts"][i][k],
                        out["entity_starts"][i][k], out["entity_ends"][i][k])
                       for k in range(out["num_entities"][i])]
                assert got == [(e["type"], e["text"], e["start"], e["end"])
                               for e in record["entities"]], i
                assert out["tags"][i][:words] == record["tags"], i
                np.testing.assert_allclose(out["entity_scores"][i][:len(got)],
                                           [e["score"] for e in record["entities"]],
                                           atol=1e-5)
                found.append(len(got))
            # The model finds entities in most texts, so that decoding is exercised.
            assert sum(n > 0 for n in found) >= 3, found
        elif task == "qa":
            assert out["answer"] == [r["answer"] for r in keras_path]
            assert out["start"] == [r["start"] for r in keras_path]
            assert out["end"] == [r["end"] for r in keras_path]
            assert out["has_answer"] == [r["score"] is not None for r in keras_path]
            np.testing.assert_allclose(out["score"], [r["score"] for r in keras_path],
                                       atol=1e-5)
        elif task == "pretrain":
            for i, record in enumerate(keras_path):
                tokens = [[t for t in row if t] for row in out["tokens"][i]]
                assert [row for row in tokens if row] == [
                    [c["token"] for c in mask] for mask in record["masks"]]
        else:
            np.testing.assert_allclose(out["embedding"],
                                       [r["embedding"] for r in keras_path], atol=1e-5)


@pytest.mark.slow
def test_layout_assets_and_predict_runtime(model_dirs, exported):
    base, paths = exported
    path = paths["classify"]
    assert path == os.path.join(base, "classify", "1")
    assert sorted(os.listdir(os.path.join(path, "assets"))) == ["labels.txt", "vocab.txt"]
    with open(os.path.join(path, "assets", "labels.txt"), encoding="utf-8") as f:
        assert f.read().splitlines() == ["sport", "business", "tech"]   # the output order
    record = json.load(open(os.path.join(path, "assets.extra", "tfbert_export.json")))
    assert record["inputs"]["serving_default"] == ["text"]
    assert "FastWordpieceTokenizeWithOffsets" in record["tf_text_ops"]
    assert record["inputs"]["encode"] == ["token_ids", "segment_ids", "padding_mask"]
    records = _records("classify")
    # The base directory resolves to its newest version.
    served = load_predictor(os.path.join(base, "classify")).predict(records)
    keras_path = KerasPredictor(model_dirs["classify"]).predict(records)
    assert [r["label"] for r in served] == [r["label"] for r in keras_path]
    for a, b in zip(served, keras_path):
        assert a.keys() == b.keys()
        np.testing.assert_allclose(list(a["probabilities"].values()),
                                   list(b["probabilities"].values()), atol=1e-5)


@pytest.mark.slow
def test_every_export_has_warmup_records_that_replay(model_dirs, exported):
    """Every task's version holds TF Serving warm-up records of its built-in texts (short,
    medium, long and a batch) that the loaded `serving_default` answers."""
    for task, path in exported[1].items():
        tokenizer, spec = load_task_model(model_dirs[task])[1:3]
        expected = batches(builtin_rows(task, spec.max_length, tokenizer.vocab))
        assert [len(next(iter(r.values()))) for r in expected] == [1, 1, 1, 3]
        replayed(path, expected, task)


@pytest.mark.slow
def test_versions_increase_and_failures_leave_nothing(model_dirs, tmp_path, monkeypatch):
    base = str(tmp_path / "models")
    first = export_saved_model(model_dirs["classify"], "m", base)
    before = {name: os.path.getmtime(os.path.join(first, name)) for name in os.listdir(first)}
    second = export_saved_model(model_dirs["classify"], "m", base)
    assert [os.path.basename(p) for p in (first, second)] == ["1", "2"]
    assert {n: os.path.getmtime(os.path.join(first, n)) for n in os.listdir(first)} == before

    def missing_op(found, version):
        raise ValueError("op Foo is missing")

    monkeypatch.setattr(saved_model_ops, "check_serving_ops", missing_op)
    with pytest.raises(ValueError, match="op Foo"):
        export_saved_model(model_dirs["classify"], "m", base)
    assert sorted(os.listdir(os.path.join(base, "m"))) == ["1", "2"]


def test_bad_requests(model_dirs, tmp_path):
    with pytest.raises(ValueError, match="not a BERT checkpoint. Expected a tfbert model"):
        export_saved_model(str(tmp_path), "m", str(tmp_path / "base"))
    with pytest.raises(ValueError, match="--name"):
        export_saved_model(model_dirs["classify"], "../up", str(tmp_path / "base"))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ValueError, match="cannot create the export base directory"):
        export_saved_model(model_dirs["classify"], "m", str(blocker / "base"))


def test_op_check():
    assert saved_model_ops.check_serving_ops({"MatMul", "FastBertNormalize",
                                  "TFText>WhitespaceTokenizeWithOffsetsV2"}, "2.20") == [
        "FastBertNormalize", "TFText>WhitespaceTokenizeWithOffsetsV2"]
    with pytest.raises(ValueError, match="FastBertNormalize .* only from 2.12"):
        saved_model_ops.check_serving_ops({"FastBertNormalize"}, "2.11")
    with pytest.raises(ValueError, match="op MyCustomOp is neither"):
        saved_model_ops.check_serving_ops({"MatMul", "MyCustomOp"}, "2.20")
    with pytest.raises(ValueError, match="look like 2.20"):
        saved_model_ops.parse_version("latest")


@pytest.mark.slow
def test_every_export_passes_the_untrusted_model_check(exported):
    """The allow-list `tfbert predict` applies to SavedModels from elsewhere covers every
    task's export (if TensorFlow starts emitting a new op, this fails first)."""
    from tfbert.export.saved_model_ops import check_untrusted_saved_model

    for path in exported[1].values():
        check_untrusted_saved_model(path)
