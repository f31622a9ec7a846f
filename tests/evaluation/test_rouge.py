"""ROUGE against the worked examples of Lin (2004) and, where installed, Google's
`rouge-score` package on real English text."""

import pytest

from tfbert.evaluation.rouge import lcs_length, rouge, rouge_l, rouge_n, rouge_tokens

REFERENCE = "police killed the gunman"  # Lin 2004, section 3.1


@pytest.mark.parametrize("candidate, rouge_l_f, rouge_2", [
    ("police kill the gunman", 3 / 4, 1 / 3),   # S2: LCS "police the gunman"
    ("the gunman kill police", 2 / 4, 1 / 3),   # S3: LCS "the gunman"
])
def test_lin_2004_examples(candidate, rouge_l_f, rouge_2):
    scores = rouge(candidate, REFERENCE)
    # Candidate and reference have 4 tokens each: precision = recall = F.
    for key in ("precision", "recall", "f1"):
        assert scores["rougeL"][key] == pytest.approx(rouge_l_f)
        assert scores["rouge2"][key] == pytest.approx(rouge_2)
    assert scores["rouge1"]["f1"] == pytest.approx(3 / 4)


def test_lin_2004_s4_rouge_l_with_unequal_lengths():
    # "the gunman police killed": LCS "police killed" (or "the gunman"), 2 of 4.
    assert rouge_l("the gunman police killed", REFERENCE)["f1"] == pytest.approx(1 / 2)
    # Recall and precision differ when lengths do; F1 is their harmonic mean.
    scores = rouge_l("police killed", REFERENCE)
    assert (scores["recall"], scores["precision"]) == (0.5, 1.0)
    assert scores["f1"] == pytest.approx(2 / 3)


def test_ngram_overlap_is_clipped():
    # "the" four times in the candidate matches the reference's two only.
    scores = rouge_n("the the the the", "the cat the dog", 1)
    assert scores["recall"] == pytest.approx(2 / 4) and scores["precision"] == pytest.approx(2 / 4)


def test_tokens_lowercase_alphanumeric_runs_and_cjk_characters():
    assert rouge_tokens("U.S. GDP rose 3.5%—警方击毙") == ["u", "s", "gdp", "rose", "3", "5",
                                                          "警", "方", "击", "毙"]
    assert rouge("警方击毙了枪手", "警方击毙枪手")["rougeL"]["recall"] == 1.0
    assert lcs_length([1, 2, 3, 4], [2, 4, 1, 3]) == 2


def test_empty_texts_score_zero():
    assert rouge("", REFERENCE)["rouge1"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert rouge_l(REFERENCE, "...")["f1"] == 0.0
    with pytest.raises(ValueError, match="Received: n=0"):
        rouge_n("a", "a", 0)


TEXTS = [  # (candidate, reference): BBC News sentences and headlines
    ("Ad sales boost Time Warner profit. Quarterly profits at US media giant TimeWarner "
     "jumped 76% to $1.13bn (£600m) for the three months to December.",
     "Ad sales boost Time Warner profit"),
    ("The dollar has hit its highest level against the euro in almost three months after "
     "the Federal Reserve head said the US trade deficit is set to stabilise.",
     "Dollar gains on Greenspan speech"),
    ("Yukos unit buyer faces loan claim. The owners of embattled Russian oil giant Yukos "
     "are to ask the buyer of its former production unit to pay back a $900m (£479m) loan.",
     "The owners of Yukos will ask the buyer of the unit, Baikal Finance Group, to repay "
     "the loan the unit had taken."),
]


@pytest.mark.parametrize("candidate, reference", TEXTS)
def test_equals_google_rouge_score_without_stemming(candidate, reference):
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    theirs = scorer.score(reference, candidate)  # score(target, prediction)
    ours = rouge(candidate, reference)
    for key in ("rouge1", "rouge2", "rougeL"):
        assert ours[key]["precision"] == pytest.approx(theirs[key].precision)
        assert ours[key]["recall"] == pytest.approx(theirs[key].recall)
        assert ours[key]["f1"] == pytest.approx(theirs[key].fmeasure)
