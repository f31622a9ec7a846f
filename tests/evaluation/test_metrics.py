"""Metrics against expectations computed by hand (comments show the arithmetic)."""

import math

import numpy as np
import pytest

from tfbert.evaluation import (
    best_null_threshold,
    classification_metrics,
    entities,
    exact_match,
    f1_score,
    masked_lm_metrics,
    multilabel_metrics,
    ner_metrics,
    normalize_answer,
    qa_metrics,
)

LABELS = ["neg", "neu", "pos"]
Y_TRUE = [0, 0, 0, 1, 1, 2, 2, 2, 2]
Y_PRED = [0, 0, 1, 1, 2, 2, 2, 2, 2]


def test_classification_three_classes_by_hand():
    # confusion (rows true): neg [2 1 0], neu [0 1 1], pos [0 0 4]; accuracy 7/9
    # neg: P 2/2, R 2/3, F1 0.8   neu: P 1/2, R 1/2, F1 0.5   pos: P 4/5, R 4/4, F1 8/9
    m = classification_metrics(Y_TRUE, Y_PRED, LABELS)
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 4]]
    assert m["accuracy"] == pytest.approx(7 / 9)
    assert m["examples"] == 9
    expected = {"neg": (1.0, 2 / 3, 0.8, 3), "neu": (0.5, 0.5, 0.5, 2), "pos": (0.8, 1.0, 8 / 9, 4)}
    for name, (p, r, f1, support) in expected.items():
        row = m["per_class"][name]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p, r, f1))
        assert row["support"] == support
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 8 / 9) / 3)
    assert m["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 4 * 8 / 9) / 9)
    assert list(m["per_class"]) == LABELS
    assert all(type(v) is float for v in (m["accuracy"], m["macro_f1"], m["weighted_f1"]))


def test_macro_f1_counts_absent_class_as_zero():
    # "c" has no support and no predictions: F1 0, so macro = (1 + 1 + 0) / 3
    m = classification_metrics([0, 1, 0, 1], [0, 1, 0, 1], ["a", "b", "c"])
    assert m["accuracy"] == 1.0
    assert m["macro_f1"] == pytest.approx(2 / 3)
    assert m["weighted_f1"] == pytest.approx(1.0)
    assert m["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_predicted_class_without_support():
    # a: P 1/1, R 1/2, F1 2/3; b: 0; c: predicted once, never true: P 0 -> F1 0
    m = classification_metrics(np.array([0, 0]), np.array([0, 2]), ["a", "b", "c"])
    assert m["macro_f1"] == pytest.approx(2 / 9)
    assert m["confusion_matrix"] == [[1, 0, 1], [0, 0, 0], [0, 0, 0]]


@pytest.mark.parametrize("y_true,y_pred,message", [
    ([], [], "at least one example"),
    ([0, 3], [0, 1], r"Class id 3 .*y_true\[1\]=3"),
    ([0, 1], [0, -1], r"Class id -1 .*y_pred\[1\]=-1"),
    ([0, 1], [0], "same length"),
    ([0.5], [0], "integer class ids"),
])
def test_classification_rejects_bad_input(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        classification_metrics(y_true, y_pred, LABELS)


def test_multilabel_by_hand():
    y_true = [[1, 0, 1], [0, 1, 0], [1, 1, 0]]
    y_pred = [[1, 0, 0], [0, 1, 0], [1, 1, 1]]
    # exact rows: only the 2nd -> 1/3; x: F1 1, y: F1 1, z: tp 0 -> F1 0
    # micro: tp 4, predicted 5, true 5 -> P = R = F1 = 0.8
    m = multilabel_metrics(y_true, y_pred, ["x", "y", "z"])
    assert m["subset_accuracy"] == pytest.approx(1 / 3)
    assert m["micro_f1"] == pytest.approx(0.8)
    assert m["macro_f1"] == pytest.approx(2 / 3)
    assert m["examples"] == 3
    assert m["per_class"]["z"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["per_class"]["x"]["support"] == 2


def test_multilabel_rejects_bad_input():
    with pytest.raises(ValueError, match="only 0 and 1"):
        multilabel_metrics([[2, 0]], [[1, 0]], ["x", "y"])
    with pytest.raises(ValueError, match=r"shape \(examples > 0, 3 labels\)"):
        multilabel_metrics([[1, 0]], [[1, 0]], ["x", "y", "z"])


@pytest.mark.parametrize("tags,expected", [
    (["O", "I-PER", "I-PER", "O"], [("PER", 1, 3)]),                 # I- after O starts one
    (["B-LOC", "I-PER"], [("LOC", 0, 1), ("PER", 1, 2)]),             # type change: new entity
    (["O", "B-ORG", "I-ORG"], [("ORG", 1, 3)]),                       # entity at sentence end
    (["B-PER", "B-PER"], [("PER", 0, 1), ("PER", 1, 2)]),             # B- always starts
    (["I-PER", "I-PER", "B-PER"], [("PER", 0, 2), ("PER", 2, 3)]),    # IOB1
    (["B-PER", "PER", "I-PER"], [("PER", 0, 1), ("PER", 2, 3)]),      # no prefix acts as O
    (["S-PER", "B-LOC", "I-LOC", "E-LOC", "E-LOC", "I-LOC", "O"],     # IOBES
     [("PER", 0, 1), ("LOC", 1, 4), ("LOC", 4, 5), ("LOC", 5, 6)]),
    ([], []),
])
def test_entities_conlleval_rules(tags, expected):
    assert entities(tags) == expected


def test_ner_metrics_by_hand():
    true = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG", "O"]]
    # true: PER(0-2), LOC(3-4), ORG(0-1); predicted: PER(0-2), ORG(3-4) wrong type,
    # ORG(0-2) wrong end -> 1 correct of 3 predicted and 3 true: P = R = F1 = 1/3
    m = ner_metrics(true, pred)
    assert (m["precision"], m["recall"], m["f1"]) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert (m["sentences"], m["entities"], m["predicted_entities"]) == (2, 3, 3)
    assert m["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert m["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["per_type"]["ORG"]["precision"] == 0.0 and m["per_type"]["ORG"]["support"] == 1


def test_ner_length_mismatch_names_sentence():
    with pytest.raises(ValueError, match="Sentence 1 has 3 true tags but 2 predicted"):
        ner_metrics([["O"], ["O", "O", "O"]], [["O"], ["O", "O"]])


@pytest.mark.parametrize("text,expected", [
    ("The  Cat!", "cat"),
    ("An apple, a day.", "apple day"),
    ("theater", "theater"),                 # articles only as whole words
    ("\u201cquoted\u201d", "\u201cquoted\u201d"),  # official script keeps non-ASCII punctuation
    ("北京大学。", "北 京 大 学"),              # CJK: one token per ideograph
])
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_exact_match_and_f1_by_hand():
    assert exact_match("The  Cat!", ["dog", "cat"]) == 1.0
    assert exact_match("a cat", ["dog"]) == 0.0
    # [quick brown fox] vs [quick red fox jumps]: 2 shared, P 2/3, R 1/2 -> F1 4/7
    assert f1_score("the quick brown fox", ["quick red fox jumps"]) == pytest.approx(4 / 7)
    # vs "red fox": P = R = 1/2 -> 0.5; vs "brown fox jumps": P 1, R 2/3 -> 0.8; max 0.8
    assert f1_score("brown fox", ["red fox", "brown fox jumps"]) == pytest.approx(0.8)


def test_chinese_f1_is_per_character():
    # 北京大学 vs 北京: 2 shared characters, P 2/4, R 2/2 -> F1 2/3 (0 if whole-string tokens)
    assert f1_score("北京大学", ["北京"]) == pytest.approx(2 / 3)
    assert exact_match("北京 。", ["北京"]) == 1.0


def test_no_answer_questions():
    assert exact_match("", []) == 1.0 and f1_score("", []) == 1.0
    assert f1_score("something", []) == 0.0 and f1_score("", ["cat"]) == 0.0


def test_squad_v2_definitions_by_hand():
    # Counter overlap, not sets: [cat cat] vs [cat cat sat] share cat twice: P 2/2,
    # R 2/3 -> F1 0.8 (a set overlap would give P 1/2, R 1/3 -> 0.4).
    assert f1_score("the cat, the cat", ["cat cat sat"]) == pytest.approx(0.8)
    # v2.0 drops gold answers that normalise to nothing: "the" leaves "cat" alone, so an
    # empty prediction scores 0 (it would score 1 against "the").
    assert exact_match("", ["the", "cat"]) == 0.0 and f1_score("", ["the", "cat"]) == 0.0
    assert exact_match("", ["."]) == 1.0 and f1_score("", ["."]) == 1.0   # none left: [""]


def test_qa_metrics_has_and_no_answer_breakdown():
    predictions = {"q1": "cat", "q2": "brown fox", "q3": "", "q4": "dog"}
    references = {"q1": ["cat"], "q2": ["brown fox jumps"], "q3": [], "q4": []}
    # EM 1, 0, 1, 0; F1 1, 0.8, 1, 0 (v2.0's HasAns_*: q1, q2; NoAns_*: q3, q4)
    m = qa_metrics(predictions, references)
    assert (m["exact_match"], m["f1"]) == (pytest.approx(50.0), pytest.approx(70.0))
    assert (m["has_answer_exact_match"], m["has_answer_f1"], m["has_answer_questions"]) == \
        (pytest.approx(50.0), pytest.approx(90.0), 2)
    assert (m["no_answer_exact_match"], m["no_answer_f1"], m["no_answer_questions"]) == \
        (pytest.approx(50.0), pytest.approx(50.0), 2)
    # SQuAD v1.1 data (every question answerable): no breakdown.
    assert "has_answer_f1" not in qa_metrics({"q1": "cat"}, {"q1": ["cat"]})


def test_best_null_threshold_as_squad_v2_find_best_thresh():
    # Best non-null answers and null score minus their score (the margin).
    predictions = {"q1": "cat", "q2": "brown fox", "q3": "x", "q4": "y"}
    margins = {"q1": -2.0, "q2": 1.0, "q3": 0.0, "q4": 3.0}
    references = {"q1": ["cat"], "q2": ["brown fox jumps"], "q3": [], "q4": []}
    # All "no answer": F1 2 (q3, q4). Answering in rising margin: q1 +1 -> 3 (best, at
    # -2), q3 -1 -> 2, q2 +0.8 -> 2.8, q4 -1 -> 1.8. Threshold -2: 3 of 4 = 75 %.
    assert best_null_threshold(predictions, margins, references) == (75.0, -2.0)
    applied = {q: "" if margins[q] > -2.0 else a for q, a in predictions.items()}
    assert qa_metrics(applied, references)["f1"] == pytest.approx(75.0)
    # Answering none is best: the script's threshold 0.0.
    assert best_null_threshold({"q3": "x"}, {"q3": 1.0}, {"q3": []}) == (100.0, 0.0)
    # ... unless a span beats the null score: then below every margin, so none is answered.
    margins = {"q3": -0.5, "q4": 2.0}
    f1, threshold = best_null_threshold({"q3": "x", "q4": "y"}, margins,
                                        {"q3": [], "q4": []})
    assert (f1, threshold) == (100.0, -1.5) and all(m > threshold for m in margins.values())


def test_gold_answers_must_be_a_list():
    with pytest.raises(ValueError, match=r"pass \['cat'\]"):
        f1_score("cat", "cat")


def test_qa_metrics_percent_with_missing_prediction():
    predictions = {"q1": "The Cat", "q2": "brown fox", "unknown": "x"}
    references = {"q1": ["cat"], "q2": ["brown fox jumps"], "q3": ["x"]}
    # EM: 1 + 0 + 0 (missing) over 3; F1: 1 + 0.8 + 0 over 3
    m = qa_metrics(predictions, references)
    assert m["exact_match"] == pytest.approx(100 / 3)
    assert m["f1"] == pytest.approx(60.0)
    assert (m["questions"], m["missing"]) == (3, 1)


def test_masked_lm_metrics():
    m = masked_lm_metrics(30, 40, 40 * math.log(4.0))
    assert m["accuracy"] == 0.75 and m["predictions"] == 40
    assert m["loss"] == pytest.approx(math.log(4.0))
    assert m["perplexity"] == pytest.approx(4.0)
    assert masked_lm_metrics(0, 1, 1000.0)["perplexity"] == math.inf
    with pytest.raises(ValueError, match="total=0"):
        masked_lm_metrics(0, 0, 0.0)
