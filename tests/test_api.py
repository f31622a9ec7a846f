"""The flat Python API: `tfbert.__all__` importable as listed, `tfbert.predictor` answering
strings, `tfbert.finetune` on records in memory, errors naming Python parameters."""

import json
import os

import numpy as np
import pytest

import tfbert
from tfbert.jobs import python_names, records_file

MINILM = "all-MiniLM-L6-v2"


def test_every_public_name_is_importable_as_listed():
    for name in tfbert.__all__:
        assert getattr(tfbert, name) is not None, name
    assert {"predictor", "TextClassifier", "finetune", "presets", "load"} <= set(tfbert.__all__)


def test_python_errors_name_parameters_not_flags(tmp_path):
    names = {"max_length", "init", "doc_stride"}
    assert python_names("--max-length must be an integer; --init x: no such file", names) == \
        "max_length must be an integer; init x: no such file"
    assert python_names("a--b and the well-known --doc-stride; pip install --no-deps x",
                        names) == "a--b and the well-known doc_stride; pip install --no-deps x"
    assert python_names("--no-load-weights goes with --init", names | {"load_weights"}) == \
        "load_weights=False goes with init"
    out = tmp_path / "unused"
    with pytest.raises(ValueError, match=r"^max_length must be an integer from 8 to 65536\. "
                                         r"Received: 4$"):
        tfbert.finetune("classify", train=[("good", "pos"), ("bad", "neg")], out=out,
                        init=MINILM, max_length=4)
    assert not out.exists()   # the records written for the refused job are gone again
    with pytest.raises(ValueError, match=r"^class_weights: label 'pos' has weight -1; "
                                         r"expected a positive number$"):
        tfbert.finetune("classify", train=[("good", "pos"), ("bad", "neg")], out=out,
                        init=MINILM, class_weights={"pos": -1, "neg": 1})
    with pytest.raises(ValueError, match=r"^unknown settings \['epoch'\]; expected the training"):
        tfbert.finetune("classify", train="x.jsonl", out=out, init=MINILM, epoch=2)
    from dataclasses import fields

    from tfbert.training.choices import SETTING_NAMES
    from tfbert.training.trainer import TrainSettings

    assert set(SETTING_NAMES) == {f.name for f in fields(TrainSettings)}


def test_minilm_embeddings_are_mean_pooled_and_normalised_as_declared():
    embed = tfbert.predictor(MINILM)
    assert embed.task == "encoder" and embed.spec.normalize
    one = embed("A sentence to embed.")
    assert set(one) == {"text", "embedding"} and len(one["embedding"]) == 384
    many = embed(["A sentence to embed.", "Something else entirely, and longer than that."])
    # (Padded to the longer text: the same embedding up to float rounding.)
    np.testing.assert_allclose(many[0]["embedding"], one["embedding"], atol=2e-6)
    norms = [np.linalg.norm(a["embedding"]) for a in many]
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_records_in_memory_become_the_task_file_format(tmp_path):
    path = records_file("classify", [("good", "pos"), {"text": "bad", "label": np.int64(1)}],
                        tmp_path / "out", "train")
    assert os.path.basename(os.path.dirname(path)) == "data"
    assert [json.loads(line) for line in open(path, encoding="utf-8")] == [
        {"text": "good", "label": "pos"}, {"text": "bad", "label": 1}]
    # The same records give the same file (a re-run resumes the same run).
    assert records_file("classify", [("good", "pos"), ("bad", 1)], tmp_path / "out",
                        "train") == path
    ner = records_file("ner", [(["张", "三"], ["B-PER", "I-PER"])], tmp_path / "out", "train")
    from tfbert.data.readers import read_conll, read_squad

    assert read_conll(ner) == [(["张", "三"], ["B-PER", "I-PER"])]
    qa = records_file("qa", [{"question": "Who?", "context": "Ann wrote it.",
                              "answers": [{"text": "Ann", "answer_start": 0}]}],
                      tmp_path / "out", "dev")
    (example,) = read_squad(qa)
    assert (example.question, example.answers[0][0]) == ("Who?", "Ann")
    with pytest.raises(ValueError, match=r"^train\[0\]: an ner record is \(words, tags\)"):
        records_file("ner", [(["a", "b"], ["O"])], tmp_path / "out", "train")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"^out .*busy: is not empty and holds no tfbert "
                                         r"training run"):
        records_file("classify", [("good", "pos")], tmp_path / "busy", "train")
    assert os.listdir(tmp_path / "busy") == ["notes.txt"]


@pytest.mark.slow
def test_finetune_from_records_returns_the_directory_and_dev_metrics(tmp_path):
    train = [{"text": "a wonderful, moving film", "label": "pos"},
             {"text": "dull, slow and far too long", "label": "neg"}] * 8
    result = tfbert.finetune("classify", train=train, dev=train[:4], out=tmp_path / "model",
                             init=MINILM, max_length=16, epochs=1, batch_size=4,
                             verbose=False)
    assert result.model_dir == str(tmp_path / "model") and result.steps == 4
    assert set(result.metrics) >= {"accuracy", "macro_f1"}
    task = json.loads((tmp_path / "model" / "task.json").read_text())
    # MiniLM's modules.json declares mean pooling: the default follows it.
    assert task["pooling"] == "mean"
    classify = tfbert.predictor(result.model_dir)
    answer = classify("a wonderful film")
    assert answer["label"] in ("pos", "neg") and 0.5 <= answer["score"] <= 1.0
    # Run again with the same records: the finished run is resumed, not refused.
    again = tfbert.finetune("classify", train=train, dev=train[:4], out=tmp_path / "model",
                            init=MINILM, max_length=16, epochs=1, batch_size=4,
                            verbose=False)
    assert again.steps == 4


def test_predictor_inputs_are_checked_and_named():
    from tfbert.predict.base import Predictor
    from tfbert.task import TaskSpec

    class Echo(Predictor):
        def __init__(self, task):
            self.spec = TaskSpec(task=task, labels=("a", "b") if task in ("pair", "classify")
                                 else ())
            self.batch_size = 2

        def _batch(self, records):
            return [dict(r, n=len(records)) for r in records]

    pair = Echo("pair")
    assert pair(("x", "y")) == {"text": "x", "pair": "y", "n": 1}
    answers = pair([("a" * n, "b") for n in (1, 9, 2, 8, 3)])
    # Longest first in batches of two; answers in input order.
    assert [len(a["text"]) for a in answers] == [1, 9, 2, 8, 3]
    assert [a["n"] for a in answers] == [1, 2, 2, 2, 2]
    with pytest.raises(ValueError, match=r"^inputs: a pair model takes \(text, pair\) pairs"):
        pair("just one")
    qa = Echo("qa")
    assert qa(("Who?", "Ann."))["context"] == "Ann."
    with pytest.raises(ValueError, match=r"^inputs\[1\]: a qa model needs the keys "
                                         r"\['question', 'context'\]"):
        qa([{"question": "q", "context": "c"}, {"question": "q"}])
    with pytest.raises(TypeError, match=r"^inputs must be a string, a tuple, a dict or a list"):
        Echo("encoder")(3)
    assert Echo("encoder")(np.array(["u", "v"]))[1]["text"] == "v"
    # predict takes strings as well as record dicts (a string list once failed with
    # "string indices must be integers").
    assert Echo("classify").predict(["u", {"text": "v", "id": 7}]) == [
        {"text": "u", "n": 2}, {"text": "v", "id": 7, "n": 2}]


@pytest.mark.slow
def test_pretrain_from_python_then_fill_mask(tmp_path):
    from click.testing import CliRunner

    from tfbert.cli.main import cli
    from tfbert.data import builtin

    vocab = os.path.join(tfbert.checkpoint_path(MINILM), "vocab.txt")
    splits, _, _ = builtin.load_classification("bbc-news")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(text for text, _ in splits["train"][:24]), encoding="utf-8")
    done = CliRunner().invoke(cli, ["pretrain-data", str(corpus), str(tmp_path / "pd"),
                                    "--vocab", vocab, "--seq-len", "32"])
    assert done.exit_code == 0, done.output
    result = tfbert.pretrain(tmp_path / "pd", tmp_path / "pre", vocab=vocab, preset="tiny",
                             max_steps=2, batch_size=8, verbose=False)
    assert (result.model_dir, result.steps, result.metrics) == (str(tmp_path / "pre"), 2, None)
    answer = tfbert.predictor(result.model_dir, top_k=3)("the [MASK] rose")
    assert len(answer["masks"]) == 1 and len(answer["masks"][0]) == 3
    with pytest.raises(ValueError, match=r"^preset: Unknown preset"):
        tfbert.pretrain(tmp_path / "pd", tmp_path / "x", vocab=vocab, preset="huge")


@pytest.mark.slow
def test_minilm_pooling_and_normalisation_survive_conversion_and_export(tmp_path):
    """MiniLM's declared mean pooling and normalisation go into task.json on conversion,
    back into sentence-transformers' modules.json on the way out, and into the SavedModel
    exported straight from the name: the same unit-length embeddings everywhere."""
    from click.testing import CliRunner

    from tfbert.cli.main import cli
    from tfbert.convert.loader import declared_pooling

    runner = CliRunner()
    for args in (["convert", MINILM, str(tmp_path / "tfbert")],
                 ["convert", str(tmp_path / "tfbert"), str(tmp_path / "hf"), "--to", "hf"],
                 ["export", MINILM, "--format", "saved_model", "--name", "mini", "--base",
                  str(tmp_path / "serving")]):
        done = runner.invoke(cli, args)
        assert done.exit_code == 0, done.output
    task = json.loads((tmp_path / "tfbert" / "task.json").read_text())
    assert (task["pooling"], task["normalize"]) == ("mean", True)
    assert declared_pooling(tmp_path / "hf") == declared_pooling(tmp_path / "tfbert") == "mean"
    texts = ["A man is playing a guitar.", "Stocks fell."]
    expected = [a["embedding"] for a in tfbert.predictor(MINILM)(texts)]
    for artifact in ("tfbert", "hf", "serving/mini"):
        got = [a["embedding"] for a in tfbert.predictor(str(tmp_path / artifact))(texts)]
        np.testing.assert_allclose(got, expected, atol=2e-6, err_msg=artifact)
    # A classifier fine-tuned from the converted directory reads mean pooling by default.
    model = tfbert.TextClassifier.from_pretrained(str(tmp_path / "tfbert"), labels=["a", "b"])
    assert model.spec.pooling == "mean"
