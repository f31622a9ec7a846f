"""`SentenceScorer` against a plain reference: every piece masked in its own copy, the
copies built here in numpy and run one by one through the Keras model."""

import keras
import numpy as np
import pytest

import tfbert
from tfbert.config import BertConfig
from tfbert.model_dir import build_model, save_model_dir
from tfbert.task import TaskSpec

from tests.applications.conftest import CHARS

TEXTS = ["我爱北京天安门", "the cat sat on the mat.", "你好", "dogs running on a mat",
         "这是中国的人民大地上来了们和"]


@pytest.fixture(scope="module")
def scorer(lm_dir):
    return tfbert.SentenceScorer.from_pretrained(lm_dir)


def reference(scorer, text, window=None):
    """Each piece's log-probability: the piece masked, the window centred on it
    (`window` pieces; None: the whole sentence), one copy at a time."""
    tok = scorer.tokenizer
    ids = tok.tokenize([text]).to_list()[0]
    n = len(ids)
    window = window or n
    scores = []
    for t in range(n):
        start = min(max(t - window // 2, 0), max(n - window, 0))
        seen = list(ids[start:start + window])
        seen[t - start] = tok.mask_id
        row = np.array([[tok.cls_id, *seen, tok.sep_id]], "int32")
        logits = scorer.model({"token_ids": row, "segment_ids": np.zeros_like(row),
                               "padding_mask": np.ones_like(row),
                               "masked_positions": np.array([[t - start + 1]], "int32")},
                              training=False)["mlm_logits"]
        log_probs = keras.ops.convert_to_numpy(keras.ops.log_softmax(logits[0, 0]))
        scores.append(float(log_probs[ids[t]]))
    return ids, scores


def test_each_piece_is_scored_with_itself_masked(scorer):
    answers = scorer(TEXTS, per_token=True)
    for text, answer in zip(TEXTS, answers):
        ids, expected = reference(scorer, text)
        assert answer["text"] == text and answer["num_pieces"] == len(ids)
        np.testing.assert_allclose([t["score"] for t in answer["tokens"]], expected,
                                   rtol=1e-5, atol=1e-5)
        assert answer["pll"] == pytest.approx(sum(expected), abs=1e-4)
        assert answer["pseudo_perplexity"] == pytest.approx(np.exp(-sum(expected) / len(ids)),
                                                            rel=1e-4)


def test_the_per_token_spans_point_at_the_pieces(scorer):
    answer = scorer("the cat sat on the mat.", per_token=True)
    assert [(t["token"], "the cat sat on the mat."[t["start"]:t["end"]])
            for t in answer["tokens"]][:3] == [("the", "the"), ("cat", "cat"), ("sat", "sat")]
    answer = scorer("dogs running", per_token=True)
    assert [t["token"] for t in answer["tokens"]] == ["dog", "##s", "run", "##ning"]
    assert [(t["start"], t["end"]) for t in answer["tokens"]] == [(0, 3), (3, 4), (5, 8),
                                                                    (8, 12)]


def test_long_sentences_are_read_in_windows_centred_on_each_piece(lm_dir):
    scorer = tfbert.SentenceScorer.from_pretrained(lm_dir, max_length=8)  # 6 pieces
    text = CHARS  # 30 pieces: every window position, both ends included
    answer = scorer(text, per_token=True)
    ids, expected = reference(scorer, text, window=6)
    assert answer["num_pieces"] == len(ids) == len(CHARS)
    assert "".join(t["token"] for t in answer["tokens"]) == text
    np.testing.assert_allclose([t["score"] for t in answer["tokens"]], expected, rtol=1e-5,
                               atol=1e-5)


def test_the_masked_copies_hide_the_piece_they_score():
    import tensorflow as tf

    from tfbert.tokenization.masked_copies import masked_copies

    ids = tf.ragged.constant([[10, 11, 12, 13, 14, 15, 16], [20, 21], []], tf.int32)
    copies = {k: v.numpy() for k, v in masked_copies(ids, 6, cls_id=2, sep_id=3, mask_id=4,
                                                     pad_id=0).items()}
    assert copies["targets"].tolist() == [10, 11, 12, 13, 14, 15, 16, 20, 21]
    assert copies["sentence"].tolist() == [0] * 7 + [1] * 2
    assert copies["piece"].tolist() == [0, 1, 2, 3, 4, 5, 6, 0, 1]
    rows = copies["token_ids"]
    masked = copies["masked_positions"][:, 0]
    assert (rows[np.arange(len(rows)), masked] == 4).all()
    # Windows of 4: piece 3 sees pieces 1-4 (centred), the first and last pieces the ends.
    assert rows[0].tolist() == [2, 4, 11, 12, 13, 3]
    assert rows[3].tolist() == [2, 11, 12, 4, 14, 3]
    assert rows[6].tolist() == [2, 13, 14, 15, 4, 3]
    assert rows[7].tolist() == [2, 4, 21, 3, 0, 0]
    assert copies["padding_mask"][7].tolist() == [1, 1, 1, 1, 0, 0]


def test_batches_change_nothing_and_keep_the_input_order(lm_dir, scorer):
    small = tfbert.SentenceScorer.from_pretrained(lm_dir, batch_size=3)
    wide = scorer(TEXTS)
    narrow = small(TEXTS)
    assert [a["text"] for a in narrow] == TEXTS
    np.testing.assert_allclose([a["pll"] for a in narrow], [a["pll"] for a in wide],
                               rtol=1e-5, atol=1e-5)


def test_a_text_without_pieces_scores_zero(scorer):
    assert scorer(["", "你好"])[0] == {"text": "", "pll": 0.0, "num_pieces": 0,
                                      "pseudo_perplexity": None}


def test_a_model_without_a_masked_lm_head_is_a_one_line_error(tmp_path):
    config = BertConfig(vocab_size=40, hidden_size=16, num_layers=1, num_heads=2,
                        intermediate_size=32, max_position_embeddings=32)
    spec = TaskSpec(task="classify", labels=("a", "b"), max_length=16)
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                               + [f"w{i}" for i in range(35)]) + "\n")
    save_model_dir(build_model(config, spec), config, spec, str(tmp_path / "m"), str(vocab))
    with pytest.raises(ValueError, match="'classify' model has no masked-LM head"):
        tfbert.SentenceScorer.from_pretrained(str(tmp_path / "m"))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        tfbert.SentenceScorer.from_pretrained(str(tmp_path / "m"), batch_size=0)
