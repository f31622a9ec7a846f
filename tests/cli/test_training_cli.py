"""finetune / evaluate / predict / pretrain through the CLI, on small slices of real data."""

import hashlib
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

import tfbert
from tfbert.cli.main import cli
from tfbert.data import builtin
from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS
from tools.pd98_person_qa import person_questions

TRAIN = ["--batch-size", "8", "--max-length", "32", "--learning-rate", "1e-3", "--seed", "1"]


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """64 train / 32 dev reviews of chnsenti, 48 / 16 pd98 sentences, a vocab of their
    characters, and a SQuAD file asking for the person named in pd98 sentences."""
    root = tmp_path_factory.mktemp("data")
    splits, _, _ = builtin.load_classification("chnsenti")
    ner, _, _ = builtin.load_ner()
    def balanced(rows, n):  # the splits list the negative reviews first
        return [r for r in rows if r[1] == "neg"][:n // 2] + \
            [r for r in rows if r[1] == "pos"][:n // 2]

    reviews = {"train": balanced(splits["train"], 64), "dev": balanced(splits["dev"], 32)}
    sentences = {"train": ner["train"][:48], "dev": ner["dev"][:16]}
    for part, rows in reviews.items():
        with open(root / f"{part}.jsonl", "w", encoding="utf-8") as f:
            for text, label in rows:
                f.write(json.dumps({"text": text[:60], "label": label}, ensure_ascii=False) + "\n")
        with open(root / f"{part}.conll", "w", encoding="utf-8") as f:
            for chars, tags in sentences[part]:
                f.write("".join(f"{c}\t{t}\n" for c, t in zip(chars[:40], tags[:40])) + "\n")
    chars = sorted({c for rows in reviews.values() for text, _ in rows for c in text}
                   | {c for rows in sentences.values() for cs, _ in rows for c in cs})
    (root / "vocab.txt").write_text("\n".join(list(SPECIAL_TOKENS) + chars) + "\n",
                                    encoding="utf-8")
    qas = []
    for index, (chars, tags) in enumerate(ner["train"][:200]):
        if "B-PER" in tags and len(chars) < 60:
            start = tags.index("B-PER")
            end = start + 1
            while end < len(tags) and tags[end] == "I-PER":
                end += 1
            context = "".join(chars)
            qas.append({"context": context, "qas": [{"id": str(index), "question": "谁？",
                        "answers": [{"text": context[start:end], "answer_start": start}]}]})
    (root / "squad.json").write_text(json.dumps({"data": [{"paragraphs": qas}]},
                                                ensure_ascii=False), encoding="utf-8")
    # SQuAD v2 style (tools/pd98_person_qa.py): the same question over short sentences,
    # unanswerable where no person is named.
    for part, rows in (("train", ner["train"][:240]), ("dev", ner["dev"][:120])):
        paragraphs = person_questions(rows, part, max_chars=39)
        (root / f"squad2_{part}.json").write_text(
            json.dumps({"version": "v2.0", "data": [{"paragraphs": paragraphs}]},
                       ensure_ascii=False), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def classifier(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cls"
    result = run("finetune", "--task", "classify", "--train", data / "train.jsonl", "--dev",
                 data / "dev.jsonl", "--preset", "tiny", "--vocab", data / "vocab.txt",
                 "--out", out, "--epochs", 2, *TRAIN)
    assert result.exit_code == 0, result.output
    return out


def weights_digest(path):
    return hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()


def test_finetune_writes_a_model_directory(classifier):
    for name in ("config.json", "task.json", "vocab.txt", "model.safetensors", "history.json",
                 "training_curves.png", "dev_report.json", "dev_report.md",
                 "dev_report_confusion.png", "checkpoints/run.json", "checkpoints/state.json"):
        assert (classifier / name).is_file(), name
    task = json.loads((classifier / "task.json").read_text())
    assert task["task"] == "classify" and task["labels"] == ["neg", "pos"]
    assert os.listdir(classifier / "logs")


def test_rerun_resumes_and_changes_nothing(classifier, data):
    before = weights_digest(classifier)
    result = run("finetune", "--task", "classify", "--train", data / "train.jsonl", "--dev",
                 data / "dev.jsonl", "--preset", "tiny", "--vocab", data / "vocab.txt",
                 "--out", classifier, "--epochs", 2, *TRAIN)
    assert result.exit_code == 0, result.output
    assert "resuming" in result.output and "16 steps" in result.output
    assert weights_digest(classifier) == before


def test_evaluate_report_and_predict(classifier, data, tmp_path):
    result = run("evaluate", classifier, data / "dev.jsonl", "--output", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert "macro_f1" in report
    assert sum(map(sum, report["confusion_matrix"])) == 32
    # The accuracy is that of the labels `predict` gives for the same file.
    result = run("predict", classifier, "--input", data / "dev.jsonl", "--output",
                 tmp_path / "p.jsonl")
    assert result.exit_code == 0, result.output
    gold = [json.loads(line)["label"] for line in open(data / "dev.jsonl", encoding="utf-8")]
    predicted = [json.loads(line)["label"] for line in open(tmp_path / "p.jsonl",
                                                            encoding="utf-8")]
    assert len(predicted) == len(gold) == 32
    assert report["accuracy"] == pytest.approx(np.mean([p == g for p, g in zip(predicted, gold)]))
    dev_report = json.loads((classifier / "dev_report.json").read_text())
    assert report["accuracy"] == dev_report["accuracy"]   # the kept weights are the best
    assert (tmp_path / "r.md").is_file() and (tmp_path / "r_confusion.png").is_file()

    result = run("predict", classifier, "--text", "质量很好", "--text", "太差了")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["text"] for r in rows] == ["质量很好", "太差了"]
    assert all(r["label"] in ("neg", "pos") and
               abs(sum(r["probabilities"].values()) - 1) < 1e-5 for r in rows)
    result = run("predict", classifier, "--input", data / "dev.jsonl", "--output",
                 tmp_path / "p.jsonl")
    assert result.exit_code == 0, result.output
    predicted = [json.loads(line) for line in open(tmp_path / "p.jsonl", encoding="utf-8")]
    correct = np.mean([p["label"] == json.loads(line)["label"] for p, line in
                       zip(predicted, open(data / "dev.jsonl", encoding="utf-8"))])
    assert len(predicted) == 32
    assert correct == pytest.approx(report["accuracy"])   # predict agrees with evaluate
    # Windows are for qa and ner, and classifiers fine-tuned with them; this one cuts its texts.
    for command in (("evaluate", classifier, data / "dev.jsonl"),
                    ("predict", classifier, "--text", "质量很好")):
        result = run(*command, "--doc-stride", 4)
        assert result.exit_code != 0
        assert "not to this model's task 'classify' (fine-tuned without windows: it reads " \
            "the first max_length pieces)" in result.output


def test_mean_pooling_classifier(classifier, data, tmp_path):
    """Mean pooling: the default when --init declares it, recorded in task.json, read back
    by evaluate and predict, part of the run (a rerun with --pooling cls is another run),
    and refused by formats whose heads read [CLS]."""
    # From a Hugging Face directory that says, as sentence-transformers ones do, which
    # pooling it was trained with: the head reads that unless --pooling says otherwise.
    init = tmp_path / "st"
    assert run("convert", classifier, init, "--to", "hf").exit_code == 0
    (init / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"}]))
    (init / "1_Pooling").mkdir()
    (init / "1_Pooling" / "config.json").write_text(json.dumps(
        {"pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True}))
    out = tmp_path / "mean"
    command = ["finetune", "--task", "classify", "--train", data / "train.jsonl", "--dev",
               data / "dev.jsonl", "--init", init, "--out", out, "--epochs", 1, *TRAIN]
    result = run(*command)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "task.json").read_text())["pooling"] == "mean"
    # The model read back is the mean head: its logits are the classifier over the average
    # of the unpadded positions of its own encoder.
    import tfbert
    from tfbert.tokenization import load_tokenizer

    model = tfbert.load(out)
    assert model.pooling == "mean"
    inputs = load_tokenizer(out)(["质量很好", "太差了，再也不买了"], max_length=32,
                                 pad_to_max_length=True)
    sequence = np.asarray(model.encoder(inputs)["sequence_output"])
    mask = inputs["padding_mask"][:, :, None]
    kernel, bias = model.classifier.get_weights()
    np.testing.assert_allclose(model(inputs)["logits"],
                               (sequence * mask).sum(1) / mask.sum(1) @ kernel + bias, atol=1e-5)
    encoder = tfbert.load(out, task="encoder")   # a classifier's encoder, whatever its head
    np.testing.assert_allclose(encoder(inputs)["sequence_output"], sequence, atol=1e-6)
    assert "pooling" not in json.loads((classifier / "task.json").read_text())
    result = run("evaluate", out, data / "dev.jsonl", "--output", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["accuracy"] == json.loads((out / "dev_report.json").read_text())["accuracy"]
    result = run("predict", out, "--input", data / "dev.jsonl")
    assert result.exit_code == 0, result.output
    predicted = [json.loads(line)["label"] for line in result.output.splitlines()]
    gold = [json.loads(line)["label"] for line in open(data / "dev.jsonl", encoding="utf-8")]
    assert np.mean([p == g for p, g in zip(predicted, gold)]) == pytest.approx(
        report["accuracy"])

    result = run(*command, "--pooling", "cls")
    assert result.exit_code == 2 and "holds checkpoints of a different run (pooling" in \
        result.output, result.output
    for to in ("hf", "google"):
        result = run("convert", out, tmp_path / to, "--to", to)
        assert result.exit_code != 0
        assert f"a classify model with mean pooling has no {to} equivalent (that format's " \
            "classifier head reads the [CLS] pooler)" in result.output
        assert not (tmp_path / to).exists()
    result = run("finetune", "--task", "ner", "--train", data / "train.conll", "--init",
                 classifier, "--out", tmp_path / "ner", "--pooling", "mean")
    assert result.exit_code == 2
    assert "--pooling mean applies to classify and pair, not to --task ner" in result.output
    assert not (tmp_path / "ner").exists()
    from tfbert.training.finetune import FinetuneJob

    with pytest.raises(ValueError, match=r"--pooling must be one of \('cls', 'mean'\). "
                                         r"Received: 'max'"):
        FinetuneJob(task="classify", train=str(data / "train.jsonl"), out=str(tmp_path / "x"),
                    init=str(classifier), pooling="max")


@pytest.mark.slow
def test_class_weights_and_focal_gamma(data, tmp_path, monkeypatch):
    """The options reach the loss (weights in label order), are part of the run and its dev
    report but not of task.json; a bad weights file is a one-line error."""
    from tfbert.training import losses

    made, for_task = [], losses.for_task
    monkeypatch.setattr(losses, "for_task",
                        lambda task, **kwargs: made.append(kwargs) or for_task(task, **kwargs))
    weights = tmp_path / "weights.json"
    weights.write_text('{"pos": 3, "neg": 1}')
    out = tmp_path / "weighted"
    command = ["finetune", "--task", "classify", "--train", data / "train.jsonl", "--dev",
               data / "dev.jsonl", "--preset", "tiny", "--vocab", data / "vocab.txt",
               "--out", out, "--max-steps", 2, *TRAIN]
    result = run(*command, "--class-weights", weights, "--focal-gamma", 2)
    assert result.exit_code == 0, result.output
    assert made == [{"multi_label": False, "class_weights": [1.0, 3.0], "focal_gamma": 2.0}]
    assert 'loss: {"class_weights": {"neg": 1.0, "pos": 3.0}, "focal_gamma": 2.0}' \
        in result.output
    details = json.loads((out / "dev_report.json").read_text())["details"]
    assert details["class_weights"] == {"neg": 1.0, "pos": 3.0}
    assert details["focal_gamma"] == 2.0
    identity = json.loads((out / "checkpoints" / "run.json").read_text())
    assert identity["class_weights"] == {"neg": 1.0, "pos": 3.0}
    task = json.loads((out / "task.json").read_text())
    assert "class_weights" not in task and "focal_gamma" not in task
    # The same --out without them is another run.
    result = run(*command)
    assert result.exit_code == 2 and "holds checkpoints of a different run" in result.output
    weights.write_text('{"pos": 3}')
    result = run(*command[:-len(TRAIN) - 4], "--out", tmp_path / "bad", "--class-weights",
                 weights)
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1, result.output
    assert f"--class-weights {weights}: label 'neg' has no weight" in result.output
    result = run(*command, "--focal-gamma", -1)
    assert result.exit_code == 2 and "--focal-gamma" in result.output


def test_ner_finetune_evaluate_predict(data, tmp_path):
    out = tmp_path / "ner"
    result = run("finetune", "--task", "ner", "--train", data / "train.conll", "--dev",
                 data / "dev.conll", "--preset", "tiny", "--vocab", data / "vocab.txt",
                 "--out", out, "--epochs", 1, *TRAIN)
    assert result.exit_code == 0, result.output
    task = json.loads((out / "task.json").read_text())
    assert task["labels"][0] == "O" and "B-PER" in task["labels"]
    assert task["tag_scheme"] == "IOB2"  # pd98's entities open with B-
    assert task["doc_stride"] == 15      # half of a 30-piece window
    result = run("evaluate", out, data / "dev.conll", "--output", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert {"precision", "recall", "f1", "per_type"} <= set(report)
    assert report["details"]["doc_stride"] == 15
    # The same model read through windows that follow each other, without overlap.
    result = run("evaluate", out, data / "dev.conll", "--doc-stride", 30,
                 "--output", tmp_path / "r30.json")
    assert result.exit_code == 0, result.output
    report30 = json.loads((tmp_path / "r30.json").read_text())
    assert report30["details"]["doc_stride"] == 30
    assert report30["entities"] == report["entities"]
    from tfbert.tokenization import load_tokenizer
    from tfbert.training import scoring
    from tfbert.training.tasks import load_task_data

    windows = {stride: load_task_data("ner", data / "dev.conll", load_tokenizer(out),
                                      task["labels"], 32, doc_stride=stride)
               for stride in (15, 30)}
    # overlapping windows: more rows for the same sentences
    assert windows[15].size > windows[30].size >= 16
    # Each report scored the windows its stride makes, and its F1 is theirs.
    assert report["details"]["windows"] == windows[15].size
    assert report30["details"]["windows"] == windows[30].size
    model = tfbert.load(out)
    for stride, scored in ((15, report), (30, report30)):
        metrics = scoring.score("ner", task["labels"], scoring.model_outputs(
            model, windows[stride].inputs), windows[stride], tag_scheme="IOB2")
        assert scored["f1"] == pytest.approx(metrics["f1"]), stride
    result = run("predict", out, "--text", "江泽民在北京会见了客人")
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    assert len(row["tags"]) == 11 and isinstance(row["entities"], list)
    # A valid IOB2 sequence: I-X only after B-X or I-X.
    tags = row["tags"]
    assert all(not t.startswith("I-") or p[2:] == t[2:] for p, t in zip(["O"] + tags, tags))


@pytest.mark.slow
def test_qa_finetune_evaluate_predict(data, tmp_path):
    out = tmp_path / "qa"
    result = run("finetune", "--task", "qa", "--train", data / "squad.json", "--preset", "tiny",
                 "--vocab", data / "vocab.txt", "--out", out, "--epochs", 1,
                 "--batch-size", 8, "--max-length", 48, "--doc-stride", 16)
    assert result.exit_code == 0, result.output
    result = run("evaluate", out, data / "squad.json", "--output", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert result.exit_code == 0, result.output
    # The exact match of the answers `predict` gives, question by question.
    from tfbert.evaluation.metrics import normalize_answer
    from tfbert.predict.keras_model import KerasPredictor

    paragraphs = json.loads((data / "squad.json").read_text(encoding="utf-8"))["data"][0][
        "paragraphs"]
    answers = KerasPredictor(str(out)).predict([{"question": p["qas"][0]["question"],
                                            "context": p["context"]} for p in paragraphs])
    matches = [normalize_answer(a["answer"]) == normalize_answer(p["qas"][0]["answers"][0]["text"])
               for a, p in zip(answers, paragraphs)]
    assert report["questions"] == len(paragraphs) >= 10
    assert report["exact_match"] == pytest.approx(100 * np.mean(matches))
    assert report["details"]["windows"] >= len(paragraphs)
    context = "江泽民在北京会见了客人"
    result = run("predict", out, "--text", "谁？", "--context", context)
    row = json.loads(result.output)
    assert row["answer"] == context[row["start"]:row["end"]]


@pytest.mark.slow
def test_qa_no_answer_threshold_is_chosen_on_dev(data, tmp_path):
    """SQuAD v2 data: finetune stores the null threshold that is best on dev (recomputed
    here from the saved model's outputs), the dev report scores with it, and evaluate and
    predict apply it."""
    out = tmp_path / "qa2"
    result = run("finetune", "--task", "qa", "--train", data / "squad2_train.json", "--dev",
                 data / "squad2_dev.json", "--preset", "tiny", "--vocab", data / "vocab.txt",
                 "--out", out, "--epochs", 1, "--batch-size", 8, "--max-length", 48,
                 "--doc-stride", 16)
    assert result.exit_code == 0, result.output
    task = json.loads((out / "task.json").read_text())
    assert task["no_answer"] is True
    from tfbert.tokenization import load_tokenizer
    from tfbert.training import scoring
    from tfbert.training.tasks import load_task_data

    dev = load_task_data("qa", data / "squad2_dev.json", load_tokenizer(out), [], 48,
                         doc_stride=16)
    outputs = scoring.model_outputs(tfbert.load(out), dev.inputs)
    threshold, f1 = scoring.null_threshold(outputs, dev)
    assert task.get("null_threshold", 0.0) == pytest.approx(threshold, abs=1e-5)
    assert f"null threshold {threshold:.4g} (dev F1 {f1:.2f} with it)" in result.output
    report = json.loads((out / "dev_report.json").read_text())
    assert report["details"]["null_threshold"] == pytest.approx(threshold, abs=1e-5)
    assert report["f1"] == pytest.approx(f1, abs=1e-6)
    assert report["has_answer_questions"] + report["no_answer_questions"] == len(dev.examples)
    result = run("evaluate", out, data / "squad2_dev.json", "--output", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r.json").read_text())["f1"] == pytest.approx(report["f1"])
    # predict answers "" exactly where the margin is over the stored threshold.
    records = [{"question": e.question, "context": e.context} for e in dev.examples]
    answers = tfbert.predictor(str(out)).predict(records)
    expected = scoring.qa_answers(outputs, dev, True, task.get("null_threshold", 0.0))
    assert [a["answer"] for a in answers] == [expected[e.id] for e in dev.examples]


@pytest.mark.slow
def test_pretrain_then_finetune_from_it(data, tmp_path):
    corpus = tmp_path / "corpus.txt"
    splits, _, _ = builtin.load_classification("chnsenti")
    corpus.write_text("\n\n".join(text for text, _ in splits["train"][:64]), encoding="utf-8")
    assert run("pretrain-data", corpus, tmp_path / "pd", "--vocab", data / "vocab.txt",
               "--seq-len", 32).exit_code == 0
    out = tmp_path / "pre"
    result = run("pretrain", tmp_path / "pd", "--vocab", data / "vocab.txt", "--preset", "tiny",
                 "--out", out, "--max-steps", 3, "--batch-size", 8, "--dev", tmp_path / "pd")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "task.json").read_text())["task"] == "pretrain"
    result = run("evaluate", out, tmp_path / "pd", "--output", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert result.exit_code == 0 and report["perplexity"] > 1 and "nsp_accuracy" in report
    result = run("predict", out, "--text", "质量很[MASK]", "--top-k", 3)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["masks"][0]) == 3
    result = run("finetune", "--task", "classify", "--train", data / "train.jsonl", "--init",
                 out, "--out", tmp_path / "cls", "--max-steps", 2, *TRAIN)
    assert result.exit_code == 0, result.output
    # It started from the pre-trained encoder: two Adam steps at 1e-3 move a weight by at
    # most ~2e-3, while a fresh initialisation differs by far more.
    pretrained = tfbert.load(out, task="encoder").get_weights()
    tuned = tfbert.load(tmp_path / "cls", task="encoder").get_weights()
    assert len(pretrained) == len(tuned)
    assert max(float(np.abs(a - b).max()) for a, b in zip(pretrained, tuned)) < 3e-3


def _listing(path):
    return {p: os.path.getmtime(os.path.join(path, p)) for p in os.listdir(path)}


def test_bad_input_is_one_line_and_damages_nothing(classifier, data, tmp_path, monkeypatch):
    base = ["finetune", "--task", "classify", "--train", data / "train.jsonl", "--preset",
            "tiny", "--vocab", data / "vocab.txt"]

    def error(*args):
        result = run(*args)
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1, result.output
        return result.output

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert "needs TF_CONFIG" in error(*base, "--out", tmp_path / "a", "--strategy",
                                      "multiworker")
    assert "does not divide over 2 replicas" in error(*base, "--out", tmp_path / "b",
                                                      "--strategy", "mirrored",
                                                      "--batch-size", 3)
    bad_dev = tmp_path / "dev.jsonl"
    bad_dev.write_text('{"text": "好", "label": "neg"}\n{"text": "还行", "label": "meh"}\n',
                       encoding="utf-8")
    assert "line 2: label 'meh' is not one of the model's labels" in error(
        *base, "--out", tmp_path / "c", "--dev", bad_dev)
    (tmp_path / "notamodel").mkdir()
    (tmp_path / "notamodel" / "x.txt").write_text("x")
    assert "--init" in error("finetune", "--task", "classify", "--train", data / "train.jsonl",
                             "--init", tmp_path / "notamodel", "--out", tmp_path / "d")
    assert "holds no tfbert training run" in error(*base, "--out", tmp_path / "notamodel")
    assert "--vocab and --cased go with --preset" in error(
        "finetune", "--task", "classify", "--train", data / "train.jsonl", "--init", classifier,
        "--vocab", data / "vocab.txt", "--out", tmp_path / "e")
    # A mistake found by the trainer (no full step) does not claim --out: the corrected
    # command then runs there.
    assert "make no step of 128" in error(*base, "--out", tmp_path / "f", "--batch-size", 128)
    assert not (tmp_path / "f" / "checkpoints" / "run.json").exists()
    before = _listing(classifier) | _listing(classifier / "checkpoints")
    message = error(*base, "--dev", data / "dev.jsonl", "--out", classifier, "--epochs", 2,
                    *TRAIN[:-4], "--learning-rate", "2e-3", "--seed", "1")
    assert "holds checkpoints of a different run (settings.learning_rate: 0.002 here, " \
           "0.001 there)" in message
    assert _listing(classifier) | _listing(classifier / "checkpoints") == before
    for name in ("a", "b", "c", "d", "e"):
        assert not (tmp_path / name).exists() or not os.listdir(tmp_path / name)


@pytest.mark.slow
def test_sigkill_then_rerun_equals_uninterrupted(data, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    def command(out):
        return [sys.executable, "-m", "tfbert.cli.main", "finetune", "--task", "classify",
                "--train", str(data / "train.jsonl"), "--preset", "tiny", "--vocab",
                str(data / "vocab.txt"), "--out", str(out), "--epochs", "3",
                "--checkpoint-every", "2", "--deterministic", *TRAIN]

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run(command(tmp_path / "full"), check=True, env=env, capture_output=True)
    process = subprocess.Popen(command(tmp_path / "killed"), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "killed/checkpoints/state.json"
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if state.is_file() and "6" in json.loads(state.read_text() or "{}"):
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "killed/task.json").exists(), "the run finished before the kill"
    finished = subprocess.run(command(tmp_path / "killed"), env=env, capture_output=True,
                              text=True)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "resuming" in finished.stdout
    assert weights_digest(tmp_path / "killed") == weights_digest(tmp_path / "full")
