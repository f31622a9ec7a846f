"""Reports and plots: files appear complete, where expected, with nothing left behind."""

import json
import os

import pytest

from tfbert.evaluation import (
    classification_metrics,
    markdown_report,
    masked_lm_metrics,
    ner_metrics,
    write_atomically,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def metrics():
    return classification_metrics([0, 0, 0, 1, 1, 2, 2, 2, 2], [0, 0, 1, 1, 2, 2, 2, 2, 2],
                                  ["neg", "neu", "pos"])


def test_write_report_json_and_markdown(tmp_path, metrics):
    path = tmp_path / "dev" / "metrics.json"
    details = {"model": "tiny", "data": "toy.tsv", "task": "sst2"}
    written = write_report(metrics, path, "Dev set", details=details)
    assert written == [str(path), str(tmp_path / "dev" / "metrics.md")]
    assert sorted(os.listdir(path.parent)) == ["metrics.json", "metrics.md"]  # no temp files

    document = json.loads(path.read_text())
    assert document["accuracy"] == pytest.approx(7 / 9)  # metrics at the top level
    assert document["per_class"]["pos"]["support"] == 4
    assert document["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 4]]
    assert document["details"] == details

    markdown = (tmp_path / "dev" / "metrics.md").read_text()
    assert markdown.startswith("# Dev set\n")
    assert "| model | tiny |" in markdown
    assert "| metric | value |" in markdown and "| accuracy | 0.7778 |" in markdown
    assert "| examples | 9 |" in markdown
    assert "| class | precision | recall | f1 | support |" in markdown
    assert "| neg | 1.0000 | 0.6667 | 0.8000 | 3 |" in markdown
    assert "| true \\ predicted | neg | neu | pos |" in markdown
    assert "| pos | 0 | 0 | 4 |" in markdown


def test_write_report_overwrites(tmp_path, metrics):
    path = tmp_path / "metrics.json"
    write_report({"accuracy": 0.1}, path, "old")
    write_report(metrics, path, "new")
    assert json.loads(path.read_text())["examples"] == 9
    assert sorted(os.listdir(tmp_path)) == ["metrics.json", "metrics.md"]


def test_markdown_per_type_and_no_confusion_matrix():
    m = ner_metrics([["B-PER", "O"]], [["B-PER", "O"]])
    text = markdown_report(m, "NER")
    assert "## Per entity type" in text and "| PER | 1.0000 | 1.0000 | 1.0000 | 1 |" in text
    assert "Confusion" not in text


def test_infinite_perplexity_is_json_null(tmp_path):
    path = tmp_path / "mlm.json"
    write_report(masked_lm_metrics(0, 1, 1000.0), path, "MLM")
    assert json.loads(path.read_text())["perplexity"] is None


def test_write_report_rejects_markdown_path_and_details_key(tmp_path):
    with pytest.raises(ValueError, match="Received: .*report.md"):
        write_report({"accuracy": 1.0}, tmp_path / "report.md", "x")
    with pytest.raises(ValueError, match="details=..."):
        write_report({"details": 1}, tmp_path / "r.json", "x")
    assert os.listdir(tmp_path) == []


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def broken(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomically(path, broken)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_plot_confusion_matrix(tmp_path, metrics):
    from tfbert.evaluation import plot_confusion_matrix

    path = tmp_path / "cm.png"
    labels = list(metrics["per_class"])
    assert plot_confusion_matrix(metrics["confusion_matrix"], labels, path) == str(path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    big = tmp_path / "cm30.png"
    matrix = [[(i * 7 + j * 3) % 5 for j in range(30)] for i in range(30)]
    plot_confusion_matrix(matrix, [f"class_{i}" for i in range(30)], big, normalize=False)
    assert big.stat().st_size > 1000 and big.read_bytes()[:8] == PNG_SIGNATURE
    assert sorted(os.listdir(tmp_path)) == ["cm.png", "cm30.png"]
    with pytest.raises(ValueError, match=r"3 labels.*shape=\(2, 2\)"):
        plot_confusion_matrix([[1, 0], [0, 1]], labels, tmp_path / "bad.png")


def test_plot_training_curves(tmp_path):
    from tfbert.evaluation import plot_training_curves

    history = [{"step": s, "loss": 1.0 / s, "learning_rate": 1e-4 * s} for s in range(1, 11)]
    history[4]["dev_accuracy"] = 0.7  # dev metrics only every few steps
    history[9]["dev_accuracy"] = 0.8
    path = tmp_path / "curves" / "train.png"
    assert plot_training_curves(history, path) == str(path)
    assert path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_SIGNATURE
    assert os.listdir(path.parent) == ["train.png"]
    with pytest.raises(ValueError, match="'step'"):
        plot_training_curves([{"loss": 1.0}], tmp_path / "bad.png")
    with pytest.raises(ValueError, match="no numeric values"):
        plot_training_curves([{"step": 1, "note": "x"}], tmp_path / "bad.png")
