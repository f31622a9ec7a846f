"""classify/pair windows in training and evaluation: each window is a training row with its
text's label, and a text is scored once, on its windows' pooled logits."""

import dataclasses
import json

import keras
import numpy as np
import pytest

from tfbert.config import BertConfig
from tfbert.model_dir import build_model, save_model_dir
from tfbert.task import TaskSpec
from tfbert.tokenization import BertTokenizer
from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS
from tfbert.training import scoring, tasks

WORDS = [f"w{i}" for i in range(20)]


@pytest.fixture
def data(tmp_path):
    """Texts of 20, 3 and 12 pieces, labelled b, a, b; and the vocabulary."""
    (tmp_path / "vocab.txt").write_text("\n".join(list(SPECIAL_TOKENS) + WORDS) + "\n")
    path = tmp_path / "data.jsonl"
    rows = [(" ".join(WORDS), "b"), ("w1 w2 w3", "a"), (" ".join(WORDS[5:17]), "b")]
    path.write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in rows))
    return path


def test_each_window_is_a_training_row_with_its_texts_label(data):
    tok = BertTokenizer.from_file(data.parent / "vocab.txt")
    windowed = tasks.load_task_data("classify", data, tok, ["a", "b"], max_length=8,
                                    doc_stride=4, windows=True)
    # Room 6, 4 apart: 20 pieces in windows at 0, 4, 8, 12 (ends at 18), 16; 12 at 0, 4, 8.
    assert windowed.extra["document_index"].tolist() == [0] * 5 + [1] + [2] * 3
    assert windowed.size == 9 and windowed.targets["labels"].tolist() == [1] * 5 + [0] + [1] * 3
    assert windowed.inputs["token_ids"].shape == (9, 8)
    assert "3 texts in 9 windows" in windowed.note
    truncated = tasks.load_task_data("classify", data, tok, ["a", "b"], max_length=8)
    assert truncated.size == 3 and truncated.extra == {}


def test_scores_are_per_text_on_pooled_window_logits(data):
    tok = BertTokenizer.from_file(data.parent / "vocab.txt")
    windowed = tasks.load_task_data("classify", data, tok, ["a", "b"], max_length=8,
                                    doc_stride=4, windows=True)
    # Text 0 (b): four windows lean a a little, one says b strongly: mean and max say b,
    # its first window (or most of its windows) a. Text 1 (a) right; text 2 (b) wrong.
    logits = np.array([[1, 0], [1, 0], [1, 0], [1, 0], [0, 9],
                       [2, 0],
                       [3, 0], [3, 0], [0, 1]], "float32")
    for pooling in ("mean", "max"):
        metrics = scoring.score("classify", ["a", "b"], {"logits": logits}, windowed,
                                window_pooling=pooling)
        assert metrics["examples"] == 3
        assert metrics["accuracy"] == pytest.approx(2 / 3)
        assert metrics["confusion_matrix"] == [[1, 0], [1, 1]]
    with pytest.raises(ValueError, match="window pooling must be 'mean' or 'max'"):
        scoring.score("classify", ["a", "b"], {"logits": logits}, windowed)


def test_evaluate_scores_each_text_once(data, tmp_path):
    from tfbert.predict.keras_model import KerasPredictor
    from tfbert.training.evaluate import evaluate_model

    config = BertConfig(vocab_size=len(SPECIAL_TOKENS) + 20, hidden_size=16, num_layers=1,
                        num_heads=2, intermediate_size=32, max_position_embeddings=32,
                        initializer_range=0.5)
    spec = TaskSpec(task="classify", labels=("a", "b"), max_length=8, doc_stride=4,
                    window_pooling="max")
    keras.utils.set_random_seed(3)
    model_dir = tmp_path / "model"
    save_model_dir(build_model(config, spec), config, spec, model_dir,
                   vocab_file=data.parent / "vocab.txt")
    report = tmp_path / "report.json"
    metrics = evaluate_model(str(model_dir), str(data), output=str(report))
    predicted = [answer["label"] for answer in KerasPredictor(model_dir).predict(
        [json.loads(line) for line in data.read_text().splitlines()])]
    gold = ["b", "a", "b"]
    assert metrics["examples"] == 3
    assert metrics["accuracy"] == pytest.approx(np.mean([p == g for p, g in
                                                         zip(predicted, gold)]))
    details = json.loads(report.read_text())["details"]
    assert (details["windows"], details["window_pooling"]) == (9, "max")
    # The same weights without windows: three rows, read truncated.
    save_model_dir(build_model(config, dataclasses.replace(spec, window_pooling="")), config,
                   dataclasses.replace(spec, window_pooling=""), tmp_path / "plain",
                   vocab_file=data.parent / "vocab.txt")
    assert evaluate_model(str(tmp_path / "plain"), str(data))["examples"] == 3
