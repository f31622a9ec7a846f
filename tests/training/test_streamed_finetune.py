"""`finetune --train DIR` on `tfbert features` shards: it trains and writes a model
directory, gives `rows // batch` length-grouped batches per epoch in an order fixed by
`(seed, epoch)`, resumes a killed run to the same weights, and refuses features that do
not match the run (or a damaged shard) with one line, before the first step."""

import json
import random
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors.numpy import load_file

import tfbert
from tfbert.atomic import sha256_file
from tfbert.cli.main import cli
from tfbert.data import feature_shards
from tfbert.tokenization import BertTokenizer
from tfbert.training import tasks
from tfbert.training.feature_files import FeatureJob, write_features
from tfbert.training.finetune import FinetuneJob, finetune
from tfbert.training.train_data import streamed_datasets
from tfbert.training.trainer import Trainer, TrainSettings

WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
EXAMPLES = 60


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """60 texts of 1 to 40 words labelled by their first word, their features (length 32,
    4 shards) and a vocab."""
    root = tmp_path_factory.mktemp("streamed")
    rng = random.Random(0)
    (root / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    with open(root / "train.jsonl", "w") as f:
        for _ in range(EXAMPLES):
            words = [rng.choice(WORDS) for _ in range(rng.randint(1, 40))]
            f.write(json.dumps({"text": " ".join(words),
                                "label": "early" if words[0] < "eta" else "late"}) + "\n")
    write_features(FeatureJob(task="classify", train=str(root / "train.jsonl"),
                              out=str(root / "features"), vocab=str(root / "vocab.txt"),
                              max_length=32, examples_per_shard=16), echo=lambda *_: None)
    return root


def job(data, out, **changes):
    settings = TrainSettings(**{"batch_size": 4, "max_steps": 2, "learning_rate": 1e-3,
                                "seed": 1, **changes.pop("settings", {})})
    return FinetuneJob(**{"task": "classify", "train": str(data / "features"),
                          "out": str(out), "preset": "tiny", "vocab": str(data / "vocab.txt"),
                          "max_length": 32, "settings": settings, **changes})


def epoch_rows(data, seed, epoch, batch, group=50):
    manifest = feature_shards.read_manifest(data / "features")
    batches = list(streamed_datasets(str(data / "features"), manifest, seed, group=group)(
        epoch, batch))
    return manifest, batches


def row_keys(batch):
    """Each row of a batch as (its real token ids, label)."""
    inputs, targets = batch
    ids, mask = np.asarray(inputs["token_ids"]), np.asarray(inputs["padding_mask"])
    return [(tuple(row[m == 1]), int(label))
            for row, m, label in zip(ids, mask, np.asarray(targets["labels"]))]


def test_batches_per_epoch_are_rows_over_batch_grouped_by_length(data):
    tokenizer = BertTokenizer.from_file(data / "vocab.txt")
    memory = tasks.load_task_data("classify", str(data / "train.jsonl"), tokenizer,
                                  ["early", "late"], 32)
    every = Counter(row_keys(({k: v for k, v in memory.inputs.items()},
                              {"labels": memory.targets["labels"]})))
    for batch in (1, 4, 7):
        manifest, batches = epoch_rows(data, seed=0, epoch=0, batch=batch)
        assert manifest["rows"] == EXAMPLES
        assert len(batches) == EXAMPLES // batch
        seen = Counter(key for b in batches for key in row_keys(b))
        # distinct rows of the data, each at most as often as it is there
        assert sum(seen.values()) == EXAMPLES // batch * batch and not seen - every
        for inputs, targets in batches:
            width = inputs["token_ids"].shape[1]
            assert inputs["token_ids"].shape[0] == batch == targets["labels"].shape[0]
            longest = int(inputs["padding_mask"].numpy().sum(axis=1).max())
            assert width == min(-(-longest // 16) * 16, 32)
    # Length grouping: less padding than batches of rows in their shuffled order.
    padding = {group: sum(b[0]["padding_mask"].numpy().size - b[0]["padding_mask"].numpy().sum()
                          for b in epoch_rows(data, 0, 0, 4, group=group)[1])
               for group in (1, 50)}
    assert padding[50] < padding[1]


def test_the_order_is_fixed_by_seed_and_epoch(data):
    def order(seed, epoch):
        return [key for b in epoch_rows(data, seed, epoch, 4)[1] for key in row_keys(b)]

    assert order(0, 0) == order(0, 0)
    assert order(0, 1) != order(0, 0)
    assert order(1, 0) != order(0, 0)


def test_a_streamed_run_trains_and_writes_a_model_directory(data, tmp_path):
    out = tmp_path / "model"
    result = CliRunner().invoke(cli, [
        "finetune", "--task", "classify", "--train", str(data / "features"), "--dev",
        str(data / "train.jsonl"), "--out", str(out), "--preset", "tiny", "--vocab",
        str(data / "vocab.txt"), "--max-length", "32", "--batch-size", "8", "--max-steps", "3",
        "--class-weights", "balanced"])
    assert result.exit_code == 0, result.output
    assert "60 rows from 60 examples of train.jsonl in 4 shards, streamed" in result.output
    counts = feature_shards.read_manifest(data / "features")["label_counts"]
    weights = [EXAMPLES / (2 * c) for c in counts]   # balanced, from the manifest's counts
    assert json.loads(result.output.split("loss: ")[1].splitlines()[0]) == {
        "class_weights": dict(zip(["early", "late"], weights))}
    spec = json.loads((out / "task.json").read_text())
    assert spec["labels"] == ["early", "late"] and spec["max_length"] == 32
    assert (out / "model.safetensors").is_file() and (out / "dev_report.json").is_file()
    # The run is identified by the manifest, which holds every shard's SHA-256.
    run = json.loads((out / "checkpoints" / "run.json").read_text())
    assert run["train"] == sha256_file(data / "features" / "manifest.json")


def test_the_python_api_takes_a_features_directory(data, tmp_path):
    result = tfbert.finetune("classify", train=str(data / "features"), out=tmp_path / "api",
                             preset="tiny", vocab=str(data / "vocab.txt"), max_length=32,
                             batch_size=4, max_steps=2, verbose=False)
    assert result.steps == 2 and (tmp_path / "api" / "model.safetensors").is_file()


def test_a_killed_streamed_run_resumes_to_the_same_weights(data, tmp_path, monkeypatch):
    # 7 steps of 8 rows per epoch, 14 in all; length 16: one batch shape, one trace
    settings = {"epochs": 2, "max_steps": 0, "checkpoint_every": 2, "batch_size": 8}
    write_features(FeatureJob(task="classify", train=str(data / "train.jsonl"),
                              out=str(tmp_path / "f16"), vocab=str(data / "vocab.txt"),
                              max_length=16, examples_per_shard=16), echo=lambda *_: None)
    short = {"train": str(tmp_path / "f16"), "max_length": 16, "settings": settings}
    finetune(job(data, tmp_path / "full", **short), verbose=False)
    real_init = Trainer.__init__

    def dies_after_9_steps(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        step, calls = self._train_step, []

        def killed(*a):
            if len(calls) == 9:
                raise KeyboardInterrupt("killed")
            calls.append(1)
            return step(*a)

        self._train_step = killed

    monkeypatch.setattr(Trainer, "__init__", dies_after_9_steps)
    with pytest.raises(KeyboardInterrupt):
        finetune(job(data, tmp_path / "killed", **short), verbose=False)
    monkeypatch.undo()
    state = json.loads((tmp_path / "killed/checkpoints/state.json").read_text())
    assert max(map(int, state)) == 8   # resumes in epoch 1, a batch in
    result, _ = finetune(job(data, tmp_path / "killed", **short), verbose=False)
    assert result.step == 14
    full, resumed = (load_file(tmp_path / name / "model.safetensors")
                     for name in ("full", "killed"))
    assert full.keys() == resumed.keys()
    for key in full:
        np.testing.assert_allclose(resumed[key], full[key], atol=1e-6, rtol=0, err_msg=key)


@pytest.mark.parametrize("changes, message", [
    ({"task": "pair"}, r"--train \S+features: holds features for --task classify, not --task "
                       r"pair; make them with tfbert features --task pair$"),
    ({"max_length": 64}, r"--train \S+features: was made with --max-length 32, this run has "
                         r"64; expected the same"),
    ({"multi_label": True}, r"--train \S+features: was made with --multi-label False, this "
                            r"run has True"),
    ({"doc_stride": 8}, r"--train \S+features: was made with --window-pooling/--doc-stride "
                        r"windows False, this run has True"),
    ({"lowercase": False}, r"--train \S+features: was encoded uncased, but --vocab \S+ is "
                           r"cased"),
    ({"vocab": "other"}, r"--train \S+features: was encoded with another vocabulary "
                         r"\(SHA-256 \w+…\) than --vocab \S+other.txt \(\w+…\); make the "
                         r"features with --vocab"),
], ids=["task", "max_length", "multi_label", "windows", "cased", "vocab"])
def test_features_that_do_not_match_the_run_are_refused(data, tmp_path, changes, message):
    if changes.get("vocab") == "other":
        (tmp_path / "other.txt").write_text("\n".join(VOCAB + ["lambda"]) + "\n")
        changes["vocab"] = str(tmp_path / "other.txt")
    with pytest.raises(ValueError, match=message) as error:
        finetune(job(data, tmp_path / "out", **changes), verbose=False)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "out" / "checkpoints").exists()   # refused before the run began


def test_a_damaged_shard_or_missing_manifest_stops_before_the_first_step(data, tmp_path):
    import shutil

    copy = tmp_path / "features"
    shutil.copytree(data / "features", copy)
    shard = copy / "shard-00002.tfrecord"
    shard.write_bytes(shard.read_bytes()[:-7])
    result = CliRunner().invoke(cli, [
        "finetune", "--task", "classify", "--train", str(copy), "--out", str(tmp_path / "o"),
        "--preset", "tiny", "--vocab", str(data / "vocab.txt"), "--max-length", "32",
        "--max-steps", "2"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"Error: --train {copy}: shard-00002.tfrecord differs from what manifest.json recorded "
        "(SHA-256): truncated or changed since tfbert features wrote it; re-run tfbert "
        "features into a new directory")
    assert not (tmp_path / "o" / "checkpoints").exists()
    (copy / "manifest.json").unlink()
    with pytest.raises(ValueError, match=r"--train \S+features: a directory without "
                                         r"manifest.json; expected a task file or a finished "
                                         r"tfbert features directory"):
        job(data, tmp_path / "o2", train=str(copy))


def test_the_features_command_writes_shards_and_names_a_bad_line(data, tmp_path):
    out = tmp_path / "f"
    result = CliRunner().invoke(cli, ["features", str(data / "train.jsonl"), str(out),
                                      "--task", "classify", "--vocab", str(data / "vocab.txt"),
                                      "--max-length", "32", "--examples-per-shard", "16"])
    assert result.exit_code == 0, result.output
    assert "60 rows from 60 examples in 4 shards" in result.output
    # the same file and settings: the same shards, byte for byte
    assert feature_shards.read_manifest(out)["shards"] == \
        feature_shards.read_manifest(data / "features")["shards"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "alpha", "label": "early"}\n{"text": "beta"}\n')
    result = CliRunner().invoke(cli, ["features", str(bad), str(tmp_path / "g"), "--task",
                                      "classify", "--vocab", str(data / "vocab.txt")])
    assert result.exit_code == 2
    assert result.output.strip().startswith(f"Error: {bad}: line 2: no column 'label'")
    assert "\n" not in result.output.strip()


@pytest.mark.parametrize("task, options", [
    ("ner", {"doc_stride": 10}), ("qa", {"doc_stride": 8, "max_query_length": 6}),
    ("classify", {"multi_label": True})])
def test_streamed_batches_hold_the_in_memory_rows_of_every_task(tmp_path, task, options):
    """Per-piece NER tags are cut with their rows, multi-label rows keep a 0/1 per label,
    QA keeps its span: one epoch of batches of 1 holds every in-memory row once."""
    rng = random.Random(3)
    words = lambda n: [rng.choice(WORDS) for _ in range(rng.randint(1, n))]  # noqa: E731
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    if task == "ner":
        path = tmp_path / "train.conll"
        path.write_text("".join("".join(f"{w}\t{rng.choice(['O', 'B-X', 'I-X'])}\n"
                                        for w in words(40)) + "\n" for _ in range(12)))
    elif task == "qa":
        path = tmp_path / "train.json"
        contexts = [" ".join(words(40)) for _ in range(8)]
        path.write_text(json.dumps({"data": [{"paragraphs": [
            {"context": c, "qas": [{"id": str(i), "question": " ".join(words(4)),
                                    "answers": [{"text": c.split()[0], "answer_start": 0}]}]}
            for i, c in enumerate(contexts)]}]}))
    else:
        path = tmp_path / "train.jsonl"
        path.write_text("".join(json.dumps({"text": " ".join(words(40)), "labels": rng.sample(
            ["x", "y", "z"], rng.randint(0, 3))}) + "\n" for _ in range(12)))
    features = tmp_path / "features"
    job = FeatureJob(task=task, train=str(path), out=str(features),
                     vocab=str(tmp_path / "vocab.txt"), max_length=32, examples_per_shard=5,
                     columns=tasks.Columns(label=None), **options)   # (None: the default)
    manifest = write_features(job, echo=lambda *_: None)
    memory = tasks.load_task_data(task, str(path), BertTokenizer.from_file(job.vocab),
                                  manifest["settings"]["labels"], 32, job.columns,
                                  job.doc_stride, job.max_query_length, job.multi_label)

    def key(inputs, targets, i):
        n = int(np.asarray(inputs["padding_mask"][i]).sum())
        width = np.asarray(inputs["token_ids"]).shape[1]
        row = tuple(np.asarray(inputs["token_ids"][i])[:n]) + \
            tuple(np.asarray(inputs["segment_ids"][i])[:n])
        for name in sorted(targets):
            value = np.asarray(targets[name][i])
            # a per-piece target is -1 (ignored) beyond the row's length
            if value.ndim and task == "ner":
                assert (value[n:] == -1).all() and value.shape[0] == width
                value = value[:n]
            row += tuple(np.atleast_1d(value))
        return row

    expected = Counter(key(memory.inputs, memory.targets, i) for i in range(memory.size))
    batches = list(streamed_datasets(str(features), manifest, seed=0)(0, 1))
    assert len(batches) == memory.size == manifest["rows"]
    assert Counter(key(*b, 0) for b in batches) == expected
