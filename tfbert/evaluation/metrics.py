"""Task metrics as plain dicts: classification, multi-label, NER spans, SQuAD-style QA, masked LM.

Conventions: every score is a fraction in [0, 1] except `qa_metrics`, which reports percent
(0..100) as the official SQuAD script does. A precision, recall or F1 whose denominator is 0
is 0 (scikit-learn's `zero_division=0`). Values are Python floats and ints, ready for JSON.
"""

from __future__ import annotations

import collections
import math
import re
import string

import numpy as np

from tfbert.task.decoding import entities


def _prf(tp, n_pred, n_true):
    """(precision, recall, f1) from true positives, predicted and true counts; 0 when undefined."""
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(precision), float(recall), float(f1)


def _per_class(names, tp, n_pred, n_true):
    """{name: {precision, recall, f1, support}} from parallel count sequences."""
    table = {}
    for name, t, p, s in zip(names, tp, n_pred, n_true):
        precision, recall, f1 = _prf(int(t), int(p), int(s))
        table[name] = {"precision": precision, "recall": recall, "f1": f1, "support": int(s)}
    return table


def _class_ids(values, name, num_classes):
    """`values` as a 1-D int array, every id in [0, num_classes)."""
    ids = np.asarray(values)
    if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
        raise ValueError(f"{name} must be a 1-D sequence of integer class ids. "
                         f"Received: shape={ids.shape}, dtype={ids.dtype}")
    bad = np.flatnonzero((ids < 0) | (ids >= num_classes))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"Class id {int(ids[i])} is outside [0, {num_classes}) for the "
                         f"{num_classes} labels given. Received: {name}[{i}]={int(ids[i])}")
    return ids.astype(np.int64)


def classification_metrics(y_true, y_pred, labels):
    """Accuracy, macro/weighted F1, per-class scores and the confusion matrix.

    `y_true` and `y_pred` are equal-length sequences of int ids indexing `labels`.
    `macro_f1` is the unweighted mean over ALL classes in `labels`: a class with neither
    support nor predictions counts F1 = 0 (scikit-learn's `zero_division=0`).
    `confusion_matrix[i][j]` counts examples of true class i predicted as j, in `labels` order.

    >>> classification_metrics([0, 1, 1], [0, 1, 0], ["neg", "pos"])["accuracy"]  # 2 / 3
    0.6666666666666666
    """
    labels = list(labels)
    if not labels or len(set(labels)) != len(labels):
        raise ValueError(f"labels must be a non-empty list of distinct names. Received: {labels}")
    k = len(labels)
    true, pred = _class_ids(y_true, "y_true", k), _class_ids(y_pred, "y_pred", k)
    if len(true) != len(pred):
        raise ValueError(f"y_true and y_pred must have the same length. "
                         f"Received: len(y_true)={len(true)}, len(y_pred)={len(pred)}")
    if not len(true):
        raise ValueError("classification_metrics needs at least one example. Received: 0")
    matrix = np.zeros((k, k), np.int64)  # (true, predicted)
    np.add.at(matrix, (true, pred), 1)
    support = matrix.sum(axis=1)
    per_class = _per_class(labels, np.diag(matrix), matrix.sum(axis=0), support)
    f1 = np.array([row["f1"] for row in per_class.values()])
    return {
        "accuracy": float(np.trace(matrix) / len(true)),
        "macro_f1": float(f1.mean()),
        "weighted_f1": float((f1 * support).sum() / len(true)),
        "examples": int(len(true)),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
    }


def multilabel_metrics(y_true, y_pred, labels):
    """Subset accuracy, micro/macro F1 and per-class scores for 0/1 arrays of shape (n, k).

    `subset_accuracy` counts an example only when all k decisions are right; `support` is the number
    of true positives of a class; macro F1 averages all k classes, an empty one counting 0.
    """
    labels = list(labels)
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    for name, array in (("y_true", true), ("y_pred", pred)):
        if array.ndim != 2 or array.shape[1] != len(labels) or not array.shape[0]:
            raise ValueError(f"{name} must be a 0/1 array of shape (examples > 0, "
                             f"{len(labels)} labels). Received: shape={array.shape}")
        if not np.isin(array, (0, 1)).all():
            raise ValueError(f"{name} must hold only 0 and 1. "
                             f"Received values: {np.unique(array)[:10].tolist()}")
    if true.shape != pred.shape:
        raise ValueError(f"y_true and y_pred shapes differ. "
                         f"Received: {true.shape} and {pred.shape}")
    true, pred = true.astype(bool), pred.astype(bool)
    tp, n_pred, n_true = (true & pred).sum(0), pred.sum(0), true.sum(0)
    per_class = _per_class(labels, tp, n_pred, n_true)
    return {
        "subset_accuracy": float((true == pred).all(axis=1).mean()),
        "micro_f1": _prf(int(tp.sum()), int(n_pred.sum()), int(n_true.sum()))[2],
        "macro_f1": float(np.mean([row["f1"] for row in per_class.values()])),
        "examples": int(true.shape[0]),
        "per_class": per_class,
    }


def ner_metrics(true_sequences, pred_sequences):
    """Entity-level exact-span precision, recall and F1 (micro), and per entity type.

    An entity counts as correct only when its type, start and end all match a true entity.
    """
    if len(true_sequences) != len(pred_sequences) or not len(true_sequences):
        raise ValueError(f"Need equally many true and predicted sentences, at least one. "
                         f"Received: {len(true_sequences)} and {len(pred_sequences)}")
    gold, guess = set(), set()
    for i, (true_tags, pred_tags) in enumerate(zip(true_sequences, pred_sequences)):
        if len(true_tags) != len(pred_tags):
            raise ValueError(f"Sentence {i} has {len(true_tags)} true tags but "
                             f"{len(pred_tags)} predicted tags; they must align token by token.")
        gold.update((i, *span) for span in entities(true_tags))
        guess.update((i, *span) for span in entities(pred_tags))
    correct = gold & guess
    types = sorted({span[1] for span in gold | guess})

    def count(spans):
        return [sum(1 for span in spans if span[1] == t) for t in types]

    precision, recall, f1 = _prf(len(correct), len(guess), len(gold))
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "sentences": len(true_sequences),
        "entities": len(gold),
        "predicted_entities": len(guess),
        "per_type": _per_class(types, count(correct), count(guess), count(gold)),
    }


_PUNCTUATION = set(string.punctuation)
# CJK ideographs (the ranges BERT's tokenizer splits) and CJK / full-width punctuation.
_CJK = re.compile("([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
                  "\U00020000-\U0002a6df\U0002a700-\U0002ceaf\U0002f800-\U0002fa1f])")
_CJK_PUNCTUATION = re.compile("[\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]")


def normalize_answer(s):
    """SQuAD v1.1's normalisation: lower case, drop punctuation and articles, squeeze spaces.

    For Chinese, ideographs become one-character tokens (as in the CMRC 2018 evaluation) and
    CJK / full-width punctuation is dropped; text without them is normalised exactly as the
    official script does.

    >>> normalize_answer("The  Cat!"), normalize_answer("北京大学。")
    ('cat', '北 京 大 学')
    """
    text = "".join(ch for ch in s.lower() if ch not in _PUNCTUATION)
    text = _CJK.sub(r" \1 ", _CJK_PUNCTUATION.sub("", text))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _golds(gold_answers):
    """The gold answers as a list, as SQuAD v2.0's script reads them: a gold answer that
    normalises to nothing (".", "the") is dropped, and a question left without any (no
    answer) has the single gold ""."""
    if isinstance(gold_answers, str):
        raise ValueError(f"gold_answers must be a list of strings. "
                         f"Received the string {gold_answers!r}; pass [{gold_answers!r}].")
    return [g for g in gold_answers if normalize_answer(g)] or [""]


def _token_f1(prediction, gold):
    """The official bag-of-tokens F1; two empty answers agree (SQuAD v2)."""
    pred_tokens, gold_tokens = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    same = sum((collections.Counter(pred_tokens) & collections.Counter(gold_tokens)).values())
    if not same:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction, gold_answers):
    """1.0 when the normalised prediction equals any normalised gold answer, else 0.0."""
    return max(float(normalize_answer(prediction) == normalize_answer(g))
               for g in _golds(gold_answers))


def f1_score(prediction, gold_answers):
    """The best token-level F1 (a fraction) of `prediction` against any gold answer."""
    return max(_token_f1(prediction, g) for g in _golds(gold_answers))


def qa_metrics(predictions, references):
    """SQuAD-style exact match and F1 in PERCENT (0..100), averaged over `references`.

    `predictions` maps question id -> answer text, `references` id -> list of gold texts
    (empty for no-answer questions). A question without a prediction scores 0 and is counted
    in `missing` (SQuAD v1.1's script; v2.0's leaves it out of the average); predictions for
    unknown ids are ignored. When some question has no answer (SQuAD v2.0 data), the scores
    of the questions with and without one are given apart too, as v2.0's `HasAns_exact`,
    `HasAns_f1`, `NoAns_exact`, `NoAns_f1`: `has_answer_exact_match`, `has_answer_f1`,
    `has_answer_questions`, `no_answer_exact_match`, ...
    """
    if not references:
        raise ValueError("qa_metrics needs at least one reference question. Received: 0")
    scores = {True: [0.0, 0.0, 0], False: [0.0, 0.0, 0]}   # has answer: [em, f1, questions]
    missing = 0
    for qid, golds in references.items():
        # (v2.0's script: a question has an answer when its answers list is not empty)
        part = scores[bool(list(golds))]
        part[2] += 1
        if qid not in predictions:
            missing += 1
            continue
        part[0] += exact_match(predictions[qid], golds)
        part[1] += f1_score(predictions[qid], golds)
    n = len(references)
    metrics = {"exact_match": 100.0 * (scores[True][0] + scores[False][0]) / n,
               "f1": 100.0 * (scores[True][1] + scores[False][1]) / n, "questions": n,
               "missing": missing}
    if scores[False][2]:
        for name, has in (("has_answer", True), ("no_answer", False)):
            em, f1, count = scores[has]
            if count:
                metrics.update({f"{name}_exact_match": 100.0 * em / count,
                                f"{name}_f1": 100.0 * f1 / count,
                                f"{name}_questions": count})
    return metrics


def best_null_threshold(predictions, null_margins, references):
    """`(f1, threshold)`: SQuAD v2.0's `find_best_thresh` on F1. `predictions` maps question
    id -> the best non-null answer, `null_margins` id -> null score minus that answer's
    score (run_squad's null odds), `references` id -> gold texts (empty: no answer).

    A question is answered "" when its margin is over the threshold. Starting from every
    question unanswered, questions are answered in order of rising margin; the threshold
    is the margin at which the total F1 is highest (if answering none is best: 0.0, or
    below every margin when some margin is not over 0.0).
    `f1` is that F1 in percent over the questions with a margin.
    """
    has_answer = {qid: bool(list(golds)) for qid, golds in references.items()}
    score = best = float(sum(1 for qid, has in has_answer.items() if not has))
    scored = [qid for qid in null_margins if qid in references]
    if not scored:
        raise ValueError("best_null_threshold needs margins for the reference questions. "
                         "Received none")
    # Answering none: the script's 0.0, unless a margin is not over it (a span that beats
    # the null score); then below every margin, so that the threshold answers none.
    finite = [null_margins[q] for q in scored if np.isfinite(null_margins[q])]
    threshold = min([0.0] + [float(m) - 1.0 for m in finite if m <= 0.0])
    for qid in sorted(scored, key=lambda q: null_margins[q]):
        if has_answer[qid]:
            score += f1_score(predictions.get(qid, ""), references[qid])
        elif predictions.get(qid, ""):
            score -= 1
        if score > best:
            best, threshold = score, float(null_margins[qid])
    return 100.0 * best / len(scored), threshold


def masked_lm_metrics(correct, total, loss_sum):
    """Accuracy, mean loss and perplexity = exp(mean loss) over `total` masked tokens.

    `loss_sum` is the summed per-token cross-entropy in nats. A perplexity too large for a
    float is `inf`.
    """
    if total <= 0 or not 0 <= correct <= total:
        raise ValueError(f"Need total > 0 and 0 <= correct <= total. "
                         f"Received: correct={correct}, total={total}")
    loss = float(loss_sum) / total
    perplexity = math.exp(loss) if loss < 709.0 else math.inf  # exp overflows past ~709.78
    return {"accuracy": float(correct / total), "perplexity": perplexity, "loss": loss,
            "predictions": int(total)}
