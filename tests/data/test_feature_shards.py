"""`tfbert features`: a task file encoded into TFRecord shards decodes back to exactly the
rows the in-memory path encodes, for every task; shards are written atomically and a
re-run skips the finished ones, as `pretrain-data`'s are."""

import json
import random

import numpy as np
import pytest
import tensorflow as tf

from tfbert.data import feature_shards
from tfbert.tokenization import BertTokenizer
from tfbert.training import tasks
from tfbert.training.class_weights import label_counts
from tfbert.training.feature_files import FeatureJob, write_features

WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + ["##s", "."]


def quiet(*_):
    pass


def write_data(root, seed=0):
    """Tiny files of every task, with texts of many lengths (some longer than 32 pieces)."""
    rng = random.Random(seed)

    def text(low=1, high=40):
        return " ".join(rng.choice(WORDS) + rng.choice(["", "s"])
                        for _ in range(rng.randint(low, high)))

    (root / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    with open(root / "classify.jsonl", "w") as f:
        for _ in range(23):
            f.write(json.dumps({"text": text(), "label": rng.choice(["pos", "neg", "mid"]),
                                "labels": rng.sample(["x", "y", "z"], rng.randint(0, 2)),
                                "pair": text(1, 8)}) + "\n")
    with open(root / "ner.conll", "w") as f:
        for _ in range(17):
            words = text(1, 30).split()
            tags = [rng.choice(["O", "B-PER", "I-PER", "B-LOC"]) for _ in words]
            f.write("".join(f"{w}\t{t}\n" for w, t in zip(words, tags)) + "\n")
    paragraphs = []
    for i in range(9):
        context = text(5, 60)
        start = context.index(" ") + 1
        answer = context[start:].split(" ")[0]
        paragraphs.append({"context": context, "qas": [
            {"id": str(i), "question": text(1, 5),
             "answers": [{"text": answer, "answer_start": start}] if i % 4 else [],
             **({"is_impossible": True} if not i % 4 else {})}]})
    (root / "qa.json").write_text(json.dumps({"data": [{"paragraphs": paragraphs}]}))
    return root


@pytest.fixture
def data(tmp_path):
    return write_data(tmp_path)


def decode(out_dir, manifest):
    """Every row of the shards, in order, padded to max_length as the in-memory arrays."""
    settings = manifest["settings"]
    full = settings["max_length"]
    paths = [str(out_dir / s["file"]) for s in manifest["shards"]]
    serialized = tf.stack(list(tf.data.TFRecordDataset(paths)))
    inputs, targets = feature_shards.parse_rows(serialized, settings)
    values = {"token_ids": settings["pad_id"], "segment_ids": 0, "padding_mask": 0,
              "labels": -1}

    def dense(key, tensor):
        if isinstance(tensor, tf.RaggedTensor):
            return tensor.to_tensor(values[key], shape=[None, full]).numpy()
        return tensor.numpy()

    return ({k: dense(k, v) for k, v in inputs.items()},
            {k: dense(k, v) for k, v in targets.items()})


CASES = {
    "classify": dict(task="classify", file="classify.jsonl"),
    "pair": dict(task="pair", file="classify.jsonl"),
    "multi-label": dict(task="classify", file="classify.jsonl", multi_label=True),
    "windows": dict(task="classify", file="classify.jsonl", doc_stride=8),
    "ner": dict(task="ner", file="ner.conll", doc_stride=10),
    "qa": dict(task="qa", file="qa.json", max_length=32, doc_stride=8,
               max_query_length=6),
}


@pytest.mark.parametrize("case", CASES)
def test_shards_decode_to_the_in_memory_rows(data, case):
    options = dict(CASES[case])
    path = str(data / options.pop("file"))
    options.setdefault("max_length", 32)
    job = FeatureJob(train=path, out=str(data / "features"), vocab=str(data / "vocab.txt"),
                     examples_per_shard=4, **options)
    manifest = write_features(job, echo=quiet)
    assert len(manifest["shards"]) > 2   # several chunks: rows must not depend on a chunk
    tokenizer = BertTokenizer.from_file(data / "vocab.txt")
    examples, summary = tasks.read_task_examples(job.task, path, job.columns,
                                                 job.multi_label, job.label_separator)
    labels = tasks.labels_of(job.task, examples)
    memory = tasks.encode_task_data(job.task, path, examples, summary, tokenizer, labels,
                                    job.max_length, job.doc_stride, job.max_query_length,
                                    bool(job.window_pooling))
    assert manifest["settings"]["labels"] == labels
    assert manifest["rows"] == memory.size and manifest["examples"] == len(examples)
    inputs, targets = decode(data / "features", manifest)
    assert inputs.keys() == memory.inputs.keys() and targets.keys() == memory.targets.keys()
    for key in inputs:
        np.testing.assert_array_equal(inputs[key], memory.inputs[key], err_msg=key)
    for key in targets:
        np.testing.assert_array_equal(targets[key], memory.targets[key], err_msg=key)
    if job.task in ("classify", "pair"):
        assert manifest["label_counts"] == label_counts(memory.targets["labels"], len(labels))
    if job.task == "qa":
        assert manifest["no_answer"] is True


def test_a_rerun_skips_finished_shards_and_remakes_a_damaged_one(data):
    job = FeatureJob(task="classify", train=str(data / "classify.jsonl"),
                     out=str(data / "f"), vocab=str(data / "vocab.txt"), examples_per_shard=5)
    first = write_features(job, echo=quiet)
    (data / "f" / "shard-00001.tfrecord").write_bytes(b"cut short")
    said = []
    again = write_features(job, echo=said.append)
    assert again == first
    assert sum("already complete" in line for line in said) == len(first["shards"]) - 1
    other = FeatureJob(task="classify", train=job.train, out=job.out, vocab=job.vocab,
                       max_length=64, examples_per_shard=5)
    with pytest.raises(ValueError, match=r"/f: holds features made with other settings "
                                         r"\(max_length differ\); use a new output"):
        write_features(other, echo=quiet)
    (data / "g").mkdir()
    (data / "g" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"/g: is not empty and holds no features run"):
        write_features(FeatureJob(task="classify", train=job.train, out=str(data / "g"),
                                  vocab=job.vocab), echo=quiet)


def test_a_killed_run_leaves_no_shard_the_manifest_does_not_vouch_for(data, monkeypatch):
    job = FeatureJob(task="ner", train=str(data / "ner.conll"), out=str(data / "f"),
                     vocab=str(data / "vocab.txt"), examples_per_shard=5)
    real, calls = tf.io.TFRecordWriter, []

    class Killed(real):   # dies half-way through the third shard
        def write(self, record):
            calls.append(1)
            if len(calls) == 12:
                raise KeyboardInterrupt
            super().write(record)

    monkeypatch.setattr(tf.io, "TFRecordWriter", Killed)
    with pytest.raises(KeyboardInterrupt):
        write_features(job, echo=quiet)
    monkeypatch.undo()
    names = sorted(p.name for p in (data / "f").iterdir())
    assert "manifest.json" not in names
    # the third shard's staging file went with the error: only whole shards are there
    assert [n for n in names if "tfrecord" in n] == ["shard-00000.tfrecord",
                                                     "shard-00001.tfrecord"]
    said = []
    manifest = write_features(job, echo=said.append)
    assert sum("already complete" in line for line in said) == 2
    feature_shards.verify_shards(data / "f", manifest)
    clean = write_features(FeatureJob(task="ner", train=job.train, out=str(data / "clean"),
                                      vocab=job.vocab, examples_per_shard=5), echo=quiet)
    assert [s["sha256"] for s in clean["shards"]] == [s["sha256"] for s in manifest["shards"]]


@pytest.mark.parametrize("file, content, message", [
    ("bad.jsonl", '{"text": "alpha", "label": "pos"}\n{"text": "beta", "label": \n',
     r"bad.jsonl: line 2: invalid JSON"),
    ("bad.jsonl", '{"text": "alpha", "label": "pos"}\n{"text": 3, "label": "neg"}\n',
     r"bad.jsonl: line 2: column 'text' must be a string"),
    ("bad.conll", "alpha\tO\nbeta\tX-PER\n", r"bad.conll: line 2: tag 'X-PER' is not BIO"),
])
def test_a_bad_input_file_is_refused_naming_file_and_line_before_any_shard(
        data, file, content, message):
    (data / file).write_text(content)
    task = "ner" if file.endswith(".conll") else "classify"
    job = FeatureJob(task=task, train=str(data / file), out=str(data / "f"),
                     vocab=str(data / "vocab.txt"), examples_per_shard=1)
    with pytest.raises(ValueError, match=message):
        write_features(job, echo=quiet)
    assert not (data / "f").exists() or not [p for p in (data / "f").iterdir()
                                             if p.name.startswith("shard")]
