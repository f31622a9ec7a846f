"""A `FinetuneJob` checks every setting when it is built, before any data file is read, with
messages that name the flag; task-dependent defaults are the library's, not the CLI's."""

import json

import pytest

from tfbert.task import FINETUNE_TASKS, MAX_LENGTH, MIN_LENGTH
from tfbert.training import tasks
from tfbert.training.finetune import FinetuneJob


@pytest.fixture
def train(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": l}) + "\n"
                            for t, l in [("good", "pos"), ("bad", "neg")] * 4))
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ngood\nbad\n")
    return path


def job(train, **changes):
    settings = {"task": "classify", "train": str(train), "out": str(train.parent / "out"),
                "preset": "tiny", "vocab": str(train.parent / "vocab.txt"), **changes}
    return FinetuneJob(**settings)


def test_task_dependent_defaults_come_from_the_library(train):
    assert job(train).max_length == 128
    squad = train.parent / "squad.json"
    squad.write_text('{"data": []}')
    qa = job(squad, task="qa")
    assert (qa.max_length, qa.doc_stride) == (384, 128)
    assert job(train, task="classify", max_length=64).doc_stride == 128
    assert set(FINETUNE_TASKS) == {"classify", "pair", "ner", "qa"}


def test_doc_stride_turns_classify_windows_on_and_old_runs_keep_their_identity(train):
    # No windows: the TaskSpec default stride is recorded, as before windows existed, so a
    # run from then resumes (same identity, no window key).
    plain = job(train)
    assert (plain.window_pooling, plain.doc_stride) == ("", 128)
    assert "window_pooling" not in plain.identity()
    windowed = job(train, doc_stride=32)
    assert (windowed.window_pooling, windowed.doc_stride) == ("mean", 32)
    assert windowed.identity()["window_pooling"] == "mean"
    # --window-pooling alone: windows half a window apart.
    assert job(train, max_length=64, window_pooling="max").doc_stride == 31
    assert job(train, task="pair", doc_stride=8).window_pooling == "mean"


@pytest.mark.parametrize("changes, message", [
    ({"task": "summarize"}, r"--task must be one of"),
    ({"max_length": MIN_LENGTH - 1}, rf"--max-length must be an integer from {MIN_LENGTH} to "
                                     rf"{MAX_LENGTH}. Received: {MIN_LENGTH - 1}"),
    ({"max_length": "128"}, r"--max-length must be an integer"),
    # tiny has 512 position embeddings: a longer input has no position to read.
    ({"max_length": 1024}, r"--max-length 1024 is longer than the encoder's 512 position "
                           r"embeddings"),
    ({"pooling": "max"}, r"--pooling must be one of"),
    ({"task": "ner", "pooling": "mean"}, r"--pooling mean applies to classify and pair"),
    ({"doc_stride": 0}, r"--doc-stride must be an integer"),
    ({"window_pooling": "sum"}, r"--window-pooling must be one of \('mean', 'max'\)"),
    ({"task": "ner", "window_pooling": "max"}, r"--window-pooling applies to classify and pair"),
    ({"preset": "huge"}, r"--preset: Unknown preset"),
    ({"dev": "missing.jsonl"}, r"--dev missing.jsonl: no such file"),
    ({"focal_gamma": -1}, r"--focal-gamma must be a number >= 0 \(0: plain cross-entropy\). "
                          r"Received: -1"),
    ({"focal_gamma": "2"}, r"--focal-gamma must be a number >= 0"),
    ({"task": "ner", "focal_gamma": 2.0}, r"--focal-gamma applies to classify and pair, not "
                                          r"to --task ner"),
    ({"task": "ner", "class_weights": "balanced"}, r"--class-weights applies to classify and "
                                                   r"pair, not to --task ner"),
    ({"class_weights": "missing.json"}, r"--class-weights missing.json: no such file"),
    ({"class_weights": {"pos": 0}}, r"--class-weights: label 'pos' has weight 0"),
])
def test_a_bad_setting_fails_when_the_job_is_built(train, monkeypatch, changes, message):
    read = []
    monkeypatch.setattr(tasks.readers, "read_classification",
                        lambda *a, **k: read.append(a) or ([], None))
    with pytest.raises(ValueError, match=message):
        job(train, **changes)
    assert read == []   # nothing was read


def test_a_model_longer_than_the_init_encoder_fails_before_the_data_is_read(train, tmp_path,
                                                                            monkeypatch):
    import keras

    from tfbert.config import BertConfig
    from tfbert.model_dir import build_model, save_model_dir
    from tfbert.task import TaskSpec
    from tfbert.training.finetune import finetune

    config = BertConfig(vocab_size=7, hidden_size=16, num_layers=1, num_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    keras.utils.set_random_seed(0)
    save_model_dir(build_model(config, TaskSpec()), config, TaskSpec(), tmp_path / "enc",
                   vocab_file=tmp_path / "vocab.txt")
    read = []
    monkeypatch.setattr(tasks.readers, "read_classification",
                        lambda *a, **k: read.append(a) or ([], None))
    bad = job(train, preset=None, vocab=None, init=str(tmp_path / "enc"), max_length=128)
    with pytest.raises(ValueError, match=r"--max-length 128 is longer than the encoder's 64"):
        finetune(bad, verbose=False)
    assert read == []


def test_the_training_file_is_read_once(train, monkeypatch):
    from tfbert.training.finetune import finetune
    from tfbert.training.trainer import TrainSettings

    calls = []
    real = tasks.readers.read_classification

    def counting(path, *args, **kwargs):
        calls.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(tasks.readers, "read_classification", counting)
    finetune(job(train, max_length=16, settings=TrainSettings(batch_size=4, max_steps=1)),
             verbose=False)
    assert calls.count(str(train)) == 1


def test_imbalance_settings_are_in_the_identity_only_when_given(train):
    # A run from before the options (no such keys) resumes as long as they are not given.
    plain = job(train).identity()
    assert "class_weights" not in plain and "focal_gamma" not in plain
    weights = train.parent / "weights.json"
    weights.write_text('{"neg": 1, "pos": 3}')
    given = job(train, class_weights=str(weights), focal_gamma=2).identity()
    # the weights themselves (not the file's name), and the gamma
    assert given["class_weights"] == {"neg": 1.0, "pos": 3.0}
    assert given["focal_gamma"] == 2.0
    assert job(train, class_weights="balanced").identity()["class_weights"] == "balanced"
    assert {k: v for k, v in given.items() if k not in ("class_weights", "focal_gamma")} \
        == plain
