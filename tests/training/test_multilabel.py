"""Multi-label fine-tuning end to end: readers take a set of labels per example (a JSON list,
or a CSV/TSV cell joined by a separator), `finetune --multi-label` trains the sigmoid head,
chooses each label's threshold on dev and stores it, and reports micro/macro-F1, per-label
scores, subset accuracy and the calibration error."""

import json
import os

import pytest
from click.testing import CliRunner

import tfbert
from tfbert.cli.main import cli
from tfbert.data import readers
from tfbert.training import tasks

TEXTS = {("sport",): "the team won the match", ("tech",): "a new phone chip",
         ("sport", "tech"): "the team uses a new phone", (): "nothing to see here"}


def _records(copies=6):
    return [{"text": text, "labels": list(labels)} for labels, text in TEXTS.items()] * copies


def test_jsonl_lists_and_csv_cells_are_label_sets(tmp_path):
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in [
        {"text": "x", "labels": ["b", "a", "b"]}, {"text": "y", "labels": []},
        {"text": "z", "labels": [3]}]) + "\n")
    examples, _ = readers.read_classification(jsonl, label_column="labels", multi_label=True)
    assert [e.labels for e in examples] == [("b", "a"), (), ("3",)]
    assert tasks.labels_of("classify", examples) == ["3", "a", "b"]
    csv = tmp_path / "a.csv"
    csv.write_text('text,labels\nx,"b, a"\ny,\n')
    examples, _ = readers.read_classification(csv, label_column="labels", multi_label=True,
                                              label_separator=",")
    assert [e.labels for e in examples] == [("b", "a"), ()]
    tsv = tmp_path / "a.tsv"
    tsv.write_text("text\tlabels\nx\tb|a\n")
    examples, _ = readers.read_classification(tsv, label_column="labels", multi_label=True)
    assert examples[0].labels == ("b", "a")
    assert readers.label_ids(examples, ["a", "b", "c"], "a.tsv") == [[1, 1, 0]]
    with pytest.raises(ValueError, match=r"^a.tsv: line 2: label 'b' is not one of"):
        readers.label_ids(examples, ["a"], "a.tsv")


def test_malformed_label_lists_name_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "x", "labels": ["a"]}\n{"text": "y", "labels": {"a": 1}}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl: line 2: column 'labels' must be a list"):
        readers.read_classification(path, label_column="labels", multi_label=True)
    path.write_text('{"text": "y", "label": ["a", "b"]}\n')
    with pytest.raises(ValueError, match=r"line 1: label must be a string or integer, got "
                                         r"list; for a list of labels use --multi-label"):
        readers.read_classification(path)


def test_labels_are_not_cut_as_a_sequence_axis(tmp_path):
    """As many labels as positions: each batch's (rows, labels) targets must not be cut
    with its inputs to the batch's width (16 for these short texts)."""
    labels = [f"l{i:02d}" for i in range(32)]
    train = [{"text": text, "labels": labels[2 * i:2 * i + 2]}   # every label, once
             for i, text in enumerate(list(TEXTS.values()) * 4)]
    result = tfbert.finetune("classify", train=train, out=tmp_path / "m", preset="tiny",
                             vocab=_vocab(tmp_path), multi_label=True, max_length=32,
                             max_steps=1, batch_size=8, verbose=False)
    assert result.steps == 1


def test_finetune_multi_label_end_to_end(tmp_path):
    from tfbert.predict import load_predictor

    out = tmp_path / "model"
    result = tfbert.finetune("classify", train=_records(), dev=_records(1), out=out,
                             preset="tiny", vocab=_vocab(tmp_path), multi_label=True,
                             max_length=16, epochs=2, batch_size=8, learning_rate=1e-3,
                             verbose=False)
    task = json.loads((out / "task.json").read_text())
    assert task["multi_label"] and task["labels"] == ["sport", "tech"]
    assert len(task["thresholds"]) == 2 and all(0 < t < 1 for t in task["thresholds"])
    assert {"micro_f1", "macro_f1", "subset_accuracy", "ece"} <= set(result.metrics)
    report = json.loads((out / "dev_report.json").read_text())
    assert set(report["per_class"]) == {"sport", "tech"}
    assert report["details"]["thresholds"] and os.path.isfile(out / "dev_report_reliability.png")
    # The predictor decides at the stored thresholds.
    answer = load_predictor(str(out)).predict([{"text": "the team won the match"}])[0]
    expected = [label for label, t in zip(task["labels"], task["thresholds"])
                if answer["probabilities"][label] > t]
    assert answer["labels"] == expected
    # `tfbert evaluate` reads the list column by default and scores at the thresholds.
    dev = tmp_path / "dev.jsonl"
    dev.write_text("".join(json.dumps(r) + "\n" for r in _records(1)))
    run = CliRunner().invoke(cli, ["evaluate", str(out), str(dev), "--output",
                                   str(tmp_path / "eval.json")])
    assert run.exit_code == 0, run.output
    assert json.loads((tmp_path / "eval.json").read_text())["micro_f1"] == \
        pytest.approx(result.metrics["micro_f1"])


def _vocab(tmp_path):
    words = sorted({w for text in TEXTS.values() for w in text.split()})
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words) + "\n")
    return str(path)


def test_multi_label_flags_are_checked(tmp_path):
    train = tmp_path / "t.jsonl"
    train.write_text(json.dumps({"text": "x", "labels": []}) + "\n")
    runner = CliRunner()
    base = ["finetune", "--train", str(train), "--out", str(tmp_path / "o"), "--preset",
            "tiny", "--vocab", _vocab(tmp_path)]
    run = runner.invoke(cli, base + ["--task", "ner", "--multi-label"])
    assert run.exit_code == 2 and "--multi-label applies to classify and pair" in run.output
    run = runner.invoke(cli, base + ["--task", "classify", "--multi-label"])
    assert run.exit_code == 2 and "no example has a label in column 'labels'" in run.output
    assert not os.path.exists(tmp_path / "o" / "task.json")
