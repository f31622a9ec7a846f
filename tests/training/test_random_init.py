"""`FinetuneJob(load_weights=False)` (`--no-load-weights`): the checkpoint's architecture,
vocabulary and casing with random weights, the demo's "no pre-training" row. Its first
step's loss is an untrained model's, not the checkpoint's."""

import json

import keras
import numpy as np
import pytest

from tfbert.config import BertConfig
from tfbert.model_dir import build_model, save_model_dir, task_model
from tfbert.task import TaskSpec
from tfbert.training.finetune import FinetuneJob, finetune
from tfbert.training.trainer import TrainSettings

TEXTS = [("good good", "pos"), ("bad", "neg"), ("good", "pos"), ("bad bad good", "neg")] * 2
SEED = 5


@pytest.fixture
def checkpoint(tmp_path):
    return make_checkpoint(tmp_path)


def make_checkpoint(tmp_path):
    """A tiny encoder directory without dropout (so that a training step's loss is the
    model's loss), whose weights are far from any initialisation."""
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ngood\nbad\n")
    (tmp_path / "train.jsonl").write_text("".join(
        json.dumps({"text": t, "label": label}) + "\n" for t, label in TEXTS))
    config = BertConfig(vocab_size=7, hidden_size=16, num_layers=1, num_heads=2,
                        intermediate_size=32, max_position_embeddings=64,
                        hidden_dropout=0.0, attention_dropout=0.0)
    keras.utils.set_random_seed(123)
    model = build_model(config, TaskSpec(task="encoder"))
    for variable in model.weights:
        variable.assign(variable.numpy() * 3 + 0.5)
    save_model_dir(model, config, TaskSpec(task="encoder"), tmp_path / "encoder",
                   vocab_file=tmp_path / "vocab.txt")
    return tmp_path, config


def first_loss(directory, load_weights):
    job = FinetuneJob(task="classify", train=str(directory / "train.jsonl"),
                      out=str(directory / f"out-{load_weights}"),
                      init=str(directory / "encoder"), load_weights=load_weights,
                      max_length=16,
                      # One step over the whole set: its loss is the mean over every text,
                      # whatever the order.
                      settings=TrainSettings(batch_size=len(TEXTS), max_steps=1, log_every=1,
                                             learning_rate=1e-3, seed=SEED))
    result, _ = finetune(job, verbose=False)
    with open(directory / f"out-{load_weights}" / "task.json", encoding="utf-8") as f:
        labels = json.load(f)["labels"]
    return result.history[0]["loss"], labels


def mean_loss(model, labels):
    """The mean cross-entropy of `model` (a classifier) on TEXTS, computed here."""
    from tfbert.tokenization import BertTokenizer

    tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad"])
    inputs = {k: np.asarray(v) for k, v in
              tokenizer([t for t, _ in TEXTS], max_length=16).items()}
    logits = np.asarray(model(inputs, training=False)["logits"], "float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    truth = [labels.index(label) for _, label in TEXTS]
    return float(-np.mean(log_probs[np.arange(len(TEXTS)), truth]))


def test_no_load_weights_starts_where_an_untrained_model_starts(checkpoint):
    directory, config = checkpoint
    random_start, labels = first_loss(directory, load_weights=False)
    loaded_start, _ = first_loss(directory, load_weights=True)
    # The untrained model: the same architecture, built fresh under the run's seed (what
    # `prepare` sets before the model is built).
    keras.utils.set_random_seed(SEED)
    from tfbert.modeling import BertEncoder

    untrained = task_model(BertEncoder.from_bert_config(config),
                           TaskSpec(task="classify", labels=tuple(labels), max_length=16))
    expected = mean_loss(untrained, labels)
    assert random_start == pytest.approx(expected, abs=1e-6)
    # ... and not where the checkpoint's weights start. (Both are near ln 2: a fresh head
    # gives near-zero logits. The step runs in training mode, so it is exact only because
    # the checkpoint has no dropout, its head's included.)
    assert loaded_start != pytest.approx(expected, abs=1e-5), (loaded_start, expected)


def test_no_load_weights_needs_an_init_and_is_part_of_the_identity(checkpoint):
    directory, _ = checkpoint
    with pytest.raises(ValueError, match=r"--no-load-weights goes with --init"):
        FinetuneJob(task="classify", train=str(directory / "train.jsonl"),
                    out=str(directory / "x"), preset="tiny", vocab=str(directory / "vocab.txt"),
                    load_weights=False)
    common = dict(task="classify", train=str(directory / "train.jsonl"),
                  out=str(directory / "x"), init=str(directory / "encoder"))
    assert FinetuneJob(**common, load_weights=False).identity()["load_weights"] is False
    assert "load_weights" not in FinetuneJob(**common).identity()
