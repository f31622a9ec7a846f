"""The demo's pre-training text: the held-out documents, and the tokens a run saw."""

import os

import pytest

from tfbert.demo.corpus import split_documents, tokens_seen


def test_documents_split_whole_disjoint_and_the_same_each_time(tmp_path):
    documents = [f"第{i}篇的第一句。\n第{i}篇的第二句。" for i in range(400)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(documents) + "\n", encoding="utf-8")
    train, dev = split_documents(corpus, tmp_path / "split", 0.1)

    def read(path):
        with open(path, encoding="utf-8") as f:
            return [d for d in f.read().strip("\n").split("\n\n") if d]

    held = read(dev)
    assert sorted(read(train) + held) == sorted(documents)      # whole documents, each once
    assert 28 <= len(held) <= 52        # 10 % of 400 within two standard deviations
    os.rename(dev, tmp_path / "dev-before.txt")
    split_documents(corpus, tmp_path / "split", 0.1)
    assert read(dev) == read(tmp_path / "dev-before.txt")
    assert read(split_documents(corpus, tmp_path / "none", 0.0)[1]) == []


def test_tokens_seen_is_the_examples_times_the_mean_instance_length(tmp_path):
    import tensorflow as tf

    from tfbert.data.pretraining import create_pretraining_data, read_manifest
    from tfbert.tokenization import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"我爱北京天安门上太阳升"]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("我爱北京\n天安门上太阳升\n我爱天安门\n\n太阳升\n北京天安门\n\n"
                      "我爱北京天安门\n太阳\n", encoding="utf-8")
    data = tmp_path / "data"
    create_pretraining_data([str(corpus)], str(data), BertTokenizer(vocab), seq_len=16, seed=1,
                            echo=lambda line: None)
    # The lengths, read from the shards' records directly.
    lengths = []
    for shard in read_manifest(str(data))["shards"]:
        for record in tf.data.TFRecordDataset(str(data / shard["file"])):
            example = tf.train.Example.FromString(record.numpy())
            lengths.append(len(example.features.feature["token_ids"].int64_list.value))
    assert lengths and max(lengths) <= 16
    assert tokens_seen(str(data), len(lengths)) == sum(lengths)
    assert tokens_seen(str(data), 10 * len(lengths)) == 10 * sum(lengths)
    assert tokens_seen(str(data), 3) == pytest.approx(3 * sum(lengths) / len(lengths), abs=0.5)
