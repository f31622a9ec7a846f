import json
import random

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from tfbert.cli.main import cli
from tfbert.data.masking import Masker
from tfbert.data.pretraining import (create_pretraining_data, load_pretraining_dataset,
                                     make_instances)
from tfbert.tokenization import BertTokenizer

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(40)] + \
    [f"##s{i}" for i in range(10)]


def _documents(n_docs=30, seed=0):
    rng = random.Random(seed)
    return [[[rng.randrange(5, 45) for _ in range(rng.randint(3, 12))]
             for _ in range(rng.randint(1, 8))] for _ in range(n_docs)]


def test_instances_fit_and_half_are_random_next():
    rng = random.Random(1)
    instances = list(make_instances(_documents(200), 32, rng))
    assert instances
    assert all(len(a) + len(b) <= 29 and a and b for a, b, _ in instances)
    share = np.mean([r for _, _, r in instances])
    assert 0.4 < share < 0.7  # one-sentence chunks always take a random next
    single = list(make_instances(_documents(50), 32, random.Random(1), next_sentence=False))
    assert all(not b and 0 < len(a) <= 30 for a, b, _ in single)


@pytest.fixture
def corpus(tmp_path):
    rng = random.Random(0)
    path = tmp_path / "corpus.txt"
    with open(path, "w") as f:
        for _ in range(60):
            for _ in range(rng.randint(1, 6)):
                f.write(" ".join(f"w{rng.randrange(40)}" for _ in range(rng.randint(3, 15))) + "\n")
            f.write("\n")
    return path


@pytest.fixture
def tokenizer():
    return BertTokenizer(WORDS)


def test_shards_manifest_determinism_and_resume(corpus, tokenizer, tmp_path):
    quiet = lambda *_: None  # noqa: E731
    a = create_pretraining_data([corpus], tmp_path / "a", tokenizer, seq_len=32,
                                block_documents=25, echo=quiet)
    assert [s["file"] for s in a["shards"]] == [f"shard-0000{i}.tfrecord" for i in range(3)]
    assert a["documents"] == 60 and a["instances"] > 60
    b = create_pretraining_data([corpus], tmp_path / "b", tokenizer, seq_len=32,
                                block_documents=25, echo=quiet)
    assert [s["sha256"] for s in a["shards"]] == [s["sha256"] for s in b["shards"]]
    # A killed run: one shard and the manifest missing, a stray temporary file left.
    (tmp_path / "b" / "shard-00001.tfrecord").unlink()
    (tmp_path / "b" / "manifest.json").unlink()
    (tmp_path / "b" / ".shard-00002.tfrecord.x1").write_bytes(b"partial")
    with pytest.raises(ValueError, match="no manifest.json; the data is incomplete"):
        load_pretraining_dataset(tmp_path / "b")
    messages = []
    again = create_pretraining_data([corpus], tmp_path / "b", tokenizer, seq_len=32,
                                    block_documents=25, echo=messages.append)
    assert again["shards"] == a["shards"]
    assert sum("already complete" in m for m in messages) == 2
    with pytest.raises(ValueError, match="other settings"):
        create_pretraining_data([corpus], tmp_path / "b", tokenizer, seq_len=64, echo=quiet)
    dataset, manifest = load_pretraining_dataset(tmp_path / "a")
    rows = list(dataset.as_numpy_iterator())
    assert len(rows) == manifest["instances"]
    for row in rows:
        ids, seg = row["token_ids"], row["segment_ids"]
        assert ids[0] == tokenizer.cls_id and ids[-1] == tokenizer.sep_id
        assert len(ids) == len(seg) <= 32 and (ids == tokenizer.sep_id).sum() == 2
        assert seg[0] == 0 and seg[-1] == 1


def test_cli(corpus, tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(WORDS) + "\n")
    out = tmp_path / "data"
    result = CliRunner().invoke(cli, ["pretrain-data", str(corpus), str(out), "--vocab",
                                      str(vocab), "--seq-len", "32", "--no-nsp"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["next_sentence"] is False


def test_a_file_without_blank_lines_is_one_document_and_a_warning(tokenizer, tmp_path):
    flat, split = tmp_path / "flat.txt", tmp_path / "split.txt"
    flat.write_text("w1 w2 w3\nw4 w5\nw6 w7 w8\n")
    split.write_text("w1 w2 w3\n\nw4 w5\n\n")
    warned = []
    manifest = create_pretraining_data([flat, split], tmp_path / "a", tokenizer, seq_len=16,
                                       echo=lambda *_: None, warn=warned.append)
    assert manifest["documents"] == 3
    assert warned == [f"{flat}: no blank line between its 3 lines, so they are one document; "
                      "documents are separated by blank lines"]
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(WORDS) + "\n")
    result = CliRunner().invoke(cli, ["pretrain-data", str(flat), str(split), str(tmp_path / "b"),
                                      "--vocab", str(vocab), "--seq-len", "16"])
    assert result.exit_code == 0, result.output
    assert result.stderr == f"warning: {warned[0]}\n"


def _batches(whole_word, tokenizer, n=64, seq_len=48, seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        length = int(rng.integers(10, seq_len - 2))
        body = [int(x) for x in rng.integers(5, len(WORDS), length)]
        body[0] = int(rng.integers(5, 45))  # a sequence starts with a whole word
        rows.append([tokenizer.cls_id] + body + [tokenizer.sep_id])
    dataset = tf.data.Dataset.from_tensor_slices({
        "token_ids": tf.ragged.constant(rows, dtype=tf.int32),
        "segment_ids": tf.ragged.constant([[0] * len(r) for r in rows], dtype=tf.int32),
        "next_sentence_label": tf.zeros(n, tf.int32)})
    masker = Masker(WORDS, seq_len=seq_len, whole_word=whole_word)
    return rows, dataset.ragged_batch(n), masker


def test_masking_rates_and_special_tokens(tokenizer):
    rows, batches, masker = _batches(False, tokenizer, n=256)
    inputs, targets = next(iter(masker.apply(batches)))
    positions = inputs["masked_positions"].numpy()
    weights = targets["masked_weights"].numpy()
    ids, labels = inputs["token_ids"].numpy(), targets["masked_ids"].numpy()
    chosen = total = masked = kept = expected = 0
    for i, row in enumerate(rows):
        real = positions[i][weights[i] == 1]
        assert all(row[p] not in (tokenizer.cls_id, tokenizer.sep_id) for p in real)
        assert all(p < len(row) for p in real)
        assert (labels[i][weights[i] == 1] == np.array(row)[real]).all()
        chosen += len(real)
        total += len(row) - 2
        # tf-text picks ceil(15% of the selectable tokens), capped; google-research/bert
        # picked max(1, round(...)): ~0.5 token more per sequence here.
        expected += min(masker.max_predictions, int(np.ceil(0.15 * (len(row) - 2))))
        masked += (ids[i][real] == WORDS.index("[MASK]")).sum()
        kept += (ids[i][real] == np.array(row)[real]).sum()
    assert chosen == expected and 0.13 < chosen / total < 0.18
    assert 0.74 < masked / chosen < 0.86 and 0.05 < kept / chosen < 0.16
    assert positions.shape[1] == masker.max_predictions == 7


def test_whole_word_masking_and_fresh_masks(tokenizer):
    rows, batches, masker = _batches(True, tokenizer)
    # The same batch as batch 0 and as batch 1: new masks. Batch 0 again (a new pass, a
    # resumed run, another process): the same masks, so runs replay exactly.
    first, second = list(masker.apply(batches.repeat(2)))
    assert not np.array_equal(first[0]["masked_positions"], second[0]["masked_positions"])
    again, _ = list(masker.apply(batches.repeat(2)))
    for key in first[0]:
        np.testing.assert_array_equal(first[0][key], again[0][key])
    inputs, targets = first
    for i, row in enumerate(rows):
        chosen = set(inputs["masked_positions"][i].numpy()[targets["masked_weights"][i] == 1])
        for p in chosen:
            # A chosen continuation piece means its word's start was chosen too, and the
            # pieces after a chosen word start are chosen unless the cap cut them.
            if WORDS[row[p]].startswith("##"):
                assert p - 1 in chosen


def test_chinese_whole_word_masking_with_jieba(tmp_path):
    pytest.importorskip("jieba")
    from tfbert.data.pretraining import word_starts

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "，"]
    vocab += list("我爱北京天安门手机很好用这个") + ["phone", "##s"]
    tok = BertTokenizer(vocab)
    (row,) = word_starts(["我爱北京天安门，phones"], tok, lambda t: ["我", "爱", "北京", "天安门",
                                                                   "，", "phones"])
    assert [vocab[i] for i, _ in row] == ["我", "爱", "北", "京", "天", "安", "门", "，", "phone",
                                          "##s"]
    assert [f for _, f in row] == [1, 1, 1, 0, 1, 0, 0, 1, 1, 0]
    corpus = tmp_path / "zh.txt"
    corpus.write_text("我爱北京天安门\n这个手机很好用\n\n北京天安门很好\n我爱这个手机\n\n" * 20)
    create_pretraining_data([corpus], tmp_path / "out", tok, seq_len=24,
                            whole_word_masking=True, echo=lambda *_: None)
    dataset, manifest = load_pretraining_dataset(tmp_path / "out")
    assert manifest["settings"]["whole_word_masking"] is True
    masker = Masker(vocab, seq_len=24, rate=0.3, whole_word=True)
    words = {"北京", "天安门", "这个", "手机"}
    checked = 0
    for batch in masker.apply(dataset.ragged_batch(16)).take(3):
        inputs, targets = batch
        for i in range(inputs["token_ids"].shape[0]):
            positions = set(inputs["masked_positions"][i].numpy()[
                targets["masked_weights"][i].numpy() == 1].tolist())
            original = inputs["token_ids"][i].numpy().copy()
            for p, label in zip(inputs["masked_positions"][i].numpy(),
                                targets["masked_ids"][i].numpy()):
                original[p] = label
            kept = [(p, vocab[t]) for p, t in enumerate(original) if t > 4]
            text = "".join(c for _, c in kept)
            for word in words:
                start = text.find(word)
                while start >= 0:
                    span = {kept[k][0] for k in range(start, start + len(word))}
                    # A jieba word is masked whole or not at all (unless the cap cut it).
                    if span & positions and len(positions) < masker.max_predictions:
                        assert span <= positions, (text, word, positions)
                        checked += 1
                    start = text.find(word, start + 1)
    assert checked > 0   # some masked jieba word was checked
