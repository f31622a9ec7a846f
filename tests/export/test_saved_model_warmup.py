"""TF Serving warm-up records: built-in texts suit the task and the vocabulary, a
`--warmup-data` file becomes the records (read back as TF Serving reads them and replayed
through the loaded SavedModel), and bad warm-up data is one line with nothing published.
(Every task's built-in records replayed: tests/export/test_saved_model.py.)"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from tests.export.conftest import VOCAB
from tfbert.cli.main import cli
from tfbert.export import saved_model_warmup
from tfbert.export.saved_model import export_saved_model
from tfbert.export.saved_model_tasks import fill_mask_pieces
from tfbert.export.saved_model_warmup import (MAX_RECORDS, batches, builtin_rows,
                                              read_warmup, read_warmup_data, signature_inputs)
from tfbert.tokenization import BertTokenizer
from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS, read_vocab
from tfbert.tokenization.cjk import is_cjk

TASKS = ("classify", "pair", "ner", "qa", "pretrain", "encoder")
# A character-level Chinese vocabulary: every common ideograph, Chinese punctuation and
# ASCII letters (as Chinese BERT vocabularies hold them), but few English words.
CHINESE_VOCAB = (list(SPECIAL_TOKENS) + ["，", "。", "？", "、", "！"]
                 + [chr(c) for c in range(0x4E00, 0x9FA6)]
                 + [c for c in "abcdefghijklmnopqrstuvwxyz0123456789.,?!'"]
                 + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"] + ["the", "of"])


def _pieces(tokenizer, texts, task):
    """Each text's word-piece ids as the task's signature tokenizes it."""
    if task == "pretrain":
        return fill_mask_pieces(tokenizer, tf.constant(texts)).to_list()
    return tokenizer.tokenize(texts).to_list()


@pytest.mark.parametrize("language", ("en", "zh"))
def test_builtin_texts_suit_the_task_and_the_vocabulary(language):
    vocab = read_vocab(VOCAB) if language == "en" else CHINESE_VOCAB
    tokenizer = BertTokenizer(vocab)
    unknown = vocab.index("[UNK]")
    for task in TASKS:
        rows = builtin_rows(task, 48, vocab)
        assert [sorted(r) for r in rows] == [sorted(signature_inputs(task))] * 3, task
        for column in signature_inputs(task):
            texts = [r[column] for r in rows]
            # Chinese texts for a Chinese vocabulary, English ones for an English one.
            assert all(any(is_cjk(c) for c in t) == (language == "zh") for t in texts), texts
            pieces = _pieces(tokenizer, texts, task)
            assert not [p for row in pieces for p in row if p == unknown], (task, texts)
            if column != "question":
                # short < medium < long, and the long one fills the model's 48 positions.
                lengths = [len(p) for p in pieces]
                assert lengths == sorted(set(lengths)) and lengths[-1] >= 48, (task, lengths)
        if task == "pretrain":
            assert all("[MASK]" in r["text"] for r in rows)


def test_requests_are_each_row_then_a_batch():
    rows = [{"text": f"t{i}"} for i in range(10)]
    requests = batches(rows)
    assert requests[:10] == [{"text": [f"t{i}"]} for i in range(10)]
    assert requests[10:] == [{"text": [f"t{i}" for i in range(8)]}]
    assert batches(rows[:1]) == [{"text": ["t0"]}]


def test_warmup_data_formats(tmp_path):
    (tmp_path / "a.txt").write_text("first text\n\n  \nsecond\r\n", encoding="utf-8")
    assert read_warmup_data(tmp_path / "a.txt", "classify") == [{"text": "first text"},
                                                                 {"text": "second"}]
    (tmp_path / "a.jsonl").write_text(
        json.dumps({"question": "Who?", "context": "Ann.", "id": 3}) + "\n"
        + json.dumps({"question": "", "context": "skipped: no question"}) + "\n")
    assert read_warmup_data(tmp_path / "a.jsonl", "qa") == [{"question": "Who?",
                                                             "context": "Ann."}]
    (tmp_path / "a.tsv").write_text("label\ttext\ttext_pair\nx\tA man.\tA person.\n")
    assert read_warmup_data(tmp_path / "a.tsv", "pair") == [{"text": "A man.",
                                                             "text_pair": "A person."}]


def test_bad_warmup_data_is_one_line_naming_the_file(tmp_path):
    def write(name, text):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    cases = [
        (str(tmp_path / "missing.jsonl"), "classify", "missing.jsonl: no such file"),
        (write("a.xml", "<text/>"), "classify", "a.xml: unknown warm-up data format 'xml'"),
        (write("p.txt", "one\n"), "pair", "p.txt: unknown warm-up data format 'txt'; "
         "expected .jsonl, .csv or .tsv (a pair model's requests need the columns text, "
         "text_pair)"),
        (write("c.csv", "text,label\nfine,x\n"), "pair",
         "c.csv: line 2: no column 'text_pair'; a pair model's requests need the columns "
         "text, text_pair; the row has ['label', 'text']"),
        (write("q.jsonl", '{"question": "Who?", "context": 3}\n'), "qa",
         "q.jsonl: line 1: column 'context' must be a string, got int"),
        (write("e.jsonl", ""), "classify", "e.jsonl: no warm-up requests"),
        (write("b.txt", "\n  \n"), "encoder", "b.txt: no warm-up requests"),
        (write("many.txt", "x\n" * MAX_RECORDS), "classify",
         f"many.txt: {MAX_RECORDS} requests; TF Serving replays at most {MAX_RECORDS}"),
    ]
    for path, task, message in cases:
        with pytest.raises(ValueError) as info:
            read_warmup_data(path, task)
        assert str(info.value).startswith(os.path.join(str(tmp_path), message)), info.value
        assert "\n" not in str(info.value)
    assert len(read_warmup_data(write("most.txt", "x\n" * (MAX_RECORDS - 1)),
                                "classify")) == MAX_RECORDS - 1


# `serving_default`'s outputs by task (the signature table of docs/serving.md).
OUTPUT_KEYS = {
    "classify": {"probabilities", "label_ids", "label_names"},
    "pair": {"probabilities", "label_ids", "label_names"},
    "ner": {"entity_types", "entity_texts", "entity_starts", "entity_ends", "entity_scores",
            "num_entities", "tags", "num_words"},
    "qa": {"answer", "start", "end", "score", "has_answer", "nbest_answers", "nbest_starts",
           "nbest_ends", "nbest_scores", "nbest_probabilities"},
    "pretrain": {"tokens", "scores"},
    "encoder": {"embedding"},
}


def replayed(version, expected, task):
    """Each record of `version`'s warm-up file through the loaded `serving_default`, which
    must answer with the task's outputs for the whole batch, as when called with the
    `expected` requests' texts directly."""
    served = tf.saved_model.load(version).signatures["serving_default"]
    records = read_warmup(version)
    assert [name for name, _ in records] == ["serving_default"] * len(expected)
    for (_, inputs), texts in zip(records, expected):
        assert {k: [t.decode("utf-8") for t in v] for k, v in inputs.items()} == texts
        got = served(**{k: tf.constant(v) for k, v in inputs.items()})
        direct = served(**{k: tf.constant(v) for k, v in texts.items()})
        assert set(got) == set(direct) == OUTPUT_KEYS[task]
        for key in got:
            assert got[key].shape[0] == len(next(iter(texts.values()))), key
            np.testing.assert_array_equal(got[key].numpy(), direct[key].numpy(), key)
    return records


def test_cli_warmup_data_becomes_the_records(model_dirs, tmp_path):
    texts = ["Shares rose.", "Paris is nice!", "John Smith went to New York yesterday."]
    data = tmp_path / "requests.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": "x"}) + "\n" for t in texts))
    base = tmp_path / "savedmodels"
    result = CliRunner().invoke(cli, ["export", model_dirs["classify"], "--format",
                                      "saved_model", "--name", "news", "--base", str(base),
                                      "--warmup-data", str(data)])
    assert result.exit_code == 0, result.output
    version = result.stdout.strip().splitlines()[-1]
    assert version == str(base / "news" / "1")
    records = replayed(version, [{"text": [t]} for t in texts] + [{"text": texts}],
                       "classify")
    assert len(records) == 4
    record = json.load(open(os.path.join(version, "assets.extra", "tfbert_export.json")))
    assert record["warmup_requests"] == 4


def test_bad_warmup_data_leaves_nothing(model_dirs, tmp_path, monkeypatch):
    base = tmp_path / "savedmodels"
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer\nWho?,Ann\n")
    for data, message in ((bad, "bad.csv: line 2: no column 'text'"),
                          (tmp_path / "none.jsonl", "'--warmup-data': File")):
        result = CliRunner().invoke(cli, ["export", model_dirs["classify"], "--format",
                                          "saved_model", "--name", "m", "--base", str(base),
                                          "--warmup-data", str(data)])
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    result = CliRunner().invoke(cli, ["export", model_dirs["classify"], "--format", "tflite",
                                      "--out", str(tmp_path / "m.tflite"),
                                      "--warmup-data", str(bad)])
    assert result.exit_code == 2 and "--warmup-data does not apply to --format tflite" \
        in result.output
    assert not os.path.exists(base / "m") or os.listdir(base / "m") == []

    # A request the exported model fails on (TF Serving would refuse to load the version)
    # fails the export, and no version appears.
    def failing(loaded, requests):
        raise ValueError("warm-up request 1 fails in the exported model")

    monkeypatch.setattr(saved_model_warmup, "replay", failing)
    with pytest.raises(ValueError, match="warm-up request 1 fails"):
        export_saved_model(model_dirs["classify"], "m", str(base))
    assert os.listdir(base / "m") == []
