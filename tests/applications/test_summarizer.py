"""`tfbert.Summarizer`: MMR over sentence embeddings that equal `tfbert predict`'s, picked
sentences in document order with spans that point back into the document."""

import keras
import numpy as np
import pytest

import tfbert
from tfbert.applications.summarizer import Summarizer, mmr_select
from tfbert.config import BertConfig
from tfbert.convert.loader import read_checkpoint, write_checkpoint
from tfbert.model_dir import build_model, save_model_dir
from tfbert.predict import load_predictor
from tfbert.task import TaskSpec
from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS
from tfbert.tokenization.sentences import split_sentences

MINILM = "all-MiniLM-L6-v2"
NEWS = ("The central bank raised interest rates by half a point on Tuesday. "
        "Inflation has risen to its highest level in a decade. "
        "Mr. Smith, a retired teacher, bought a new bicycle for his grandson. "
        "The central bank raised interest rates by half a point on Tuesday. "
        "Analysts expect further rate rises before the end of the year. "
        "Mortgage lenders said they would pass the rise on to borrowers.")


@pytest.fixture(scope="module")
def summarizer():
    return Summarizer.from_pretrained(MINILM, batch_size=4)


def _unit(rows):
    rows = np.asarray(rows, "float64")
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def test_mmr_never_picks_a_duplicate_when_diversity_is_positive():
    # Sentences 0 and 1 are the same and the most central; 2 and 3 are near them.
    embeddings = _unit([[1, 0, 0], [1, 0, 0], [0.8, 0.6, 0], [0.8, 0, 0.6]])
    assert mmr_select(embeddings, 2, 0.0)[0] == [0, 1]      # pure centrality: both copies
    assert mmr_select(embeddings, 2, 0.5)[0] == [0, 2]
    assert mmr_select(embeddings, 3, 0.5)[0] == [0, 2, 3]
    # diversity 1: after the most central one, only novelty counts.
    assert mmr_select(embeddings, 2, 1.0)[0] == [0, 2]
    # The most central sentence is the last: picked first, listed last.
    assert mmr_select(_unit([[0.8, 0.6, 0], [0.8, 0, 0.6], [1, 0, 0]]), 2, 0.3)[0] == [0, 2]
    picked, relevance = mmr_select(embeddings, 9, 0.3)
    assert picked == [0, 1, 2, 3] and relevance.argmax() == 0


def test_summary_of_real_news_skips_the_repeated_sentence(summarizer):
    plain = summarizer(NEWS, sentences=2, diversity=0.0)
    assert [s["index"] for s in plain["sentences"]] == [0, 3]  # the repeated sentence twice
    answer = summarizer(NEWS, sentences=3, diversity=0.3)
    picked = [s["index"] for s in answer["sentences"]]
    assert picked == sorted(picked) and len(picked) == 3       # document order
    assert len({s["text"] for s in answer["sentences"]}) == 3 and 2 not in picked
    assert answer["summary"] == " ".join(s["text"] for s in answer["sentences"])
    backwards = " ".join(s.text for s in reversed(split_sentences(NEWS)))
    picked = [s["index"] for s in summarizer(backwards, sentences=3)["sentences"]]
    assert picked == sorted(picked), picked
    for s in answer["sentences"]:
        assert NEWS[s["start"]:s["end"]] == s["text"] and -1 <= s["score"] <= 1


def test_short_documents_whole_lists_and_chinese(summarizer):
    short = summarizer("One sentence. Two sentences.", sentences=2)
    assert short["summary"] == "One sentence. Two sentences."
    zh = "质量很好，物流也快。客服态度很差！包装破损了。"
    answers = summarizer([zh, "Just one."], sentences=2)
    assert isinstance(answers, list) and answers[1]["summary"] == "Just one."
    assert "".join(s["text"] for s in answers[0]["sentences"]) == answers[0]["summary"]
    assert all(zh[s["start"]:s["end"]] == s["text"] for s in answers[0]["sentences"])


def test_embeddings_equal_the_predictors(summarizer):
    texts = ["Inflation has risen.", "A much longer sentence about the central bank and "
             "its decision to raise interest rates again.", "Short."]
    expected = [r["embedding"] for r in load_predictor(MINILM).predict(
        [{"text": t} for t in texts])]
    np.testing.assert_allclose(summarizer.embed(texts), expected, atol=2e-6)


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    """A random classify model directory, and its encoder written as an encoder directory."""
    root = tmp_path_factory.mktemp("summarizer")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(list(SPECIAL_TOKENS) + list("abcdefgh.")) + "\n")
    config = BertConfig(vocab_size=len(SPECIAL_TOKENS) + 9, hidden_size=16, num_layers=1,
                        num_heads=2, intermediate_size=32, max_position_embeddings=32)
    spec = TaskSpec(task="classify", labels=("no", "yes"), max_length=16)
    keras.utils.set_random_seed(0)
    save_model_dir(build_model(config, spec), config, spec, root / "clf", vocab_file=vocab)
    write_checkpoint(read_checkpoint(root / "clf").restricted_to("encoder"), root / "encoder")
    save_model_dir(build_model(config, spec), config, spec, root / "no-vocab")
    return root


def test_a_classifier_directory_gives_its_encoder(tiny_dirs):
    texts = ["a b c. d", "e f g h a b c d e f g h a b c d e f g h", "h"]
    summarizer = Summarizer.from_pretrained(str(tiny_dirs / "clf"))
    # The encoder directory declares no normalisation: the predictor's vectors, scaled.
    raw = [r["embedding"] for r in load_predictor(tiny_dirs / "encoder").predict(
        [{"text": t} for t in texts])]
    np.testing.assert_allclose(summarizer.embed(texts), _unit(raw), atol=2e-6)
    assert summarizer.max_length == 16
    assert summarizer("a b. c d. e f.", sentences=1)["sentences"][0]["index"] in (0, 1, 2)


@pytest.mark.parametrize("call, message", [
    (lambda s: s("A. B.", sentences=0), "sentences must be an integer of at least 1. "
                                        "Received: sentences=0"),
    (lambda s: s("A. B.", diversity=1.5), "diversity must be a number from 0 to 1. "
                                          "Received: diversity=1.5"),
    (lambda s: s(" \n "), "^document holds no sentence. Received: ' "),
    (lambda s: s(["A.", ""]), r"documents\[1\] holds no sentence"),
    (lambda s: s([3]), r"documents\[0\] must be a string. Received: int"),
])
def test_bad_input_is_a_one_line_error(tiny_dirs, call, message):
    summarizer = Summarizer.from_pretrained(str(tiny_dirs / "clf"))
    with pytest.raises(ValueError, match=message) as err:
        call(summarizer)
    assert "\n" not in str(err.value)


def test_bad_checkpoints_are_one_line_errors(tiny_dirs):
    with pytest.raises(ValueError, match="has no vocab.txt"):
        Summarizer.from_pretrained(str(tiny_dirs / "no-vocab"))
    with pytest.raises(ValueError, match="max_length 64 is longer than the encoder's 32"):
        Summarizer.from_pretrained(str(tiny_dirs / "clf"), max_length=64)
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        Summarizer.from_pretrained(str(tiny_dirs / "clf"), batch_size=0)


def test_public_name():
    assert tfbert.Summarizer is Summarizer and "Summarizer" in tfbert.__all__
