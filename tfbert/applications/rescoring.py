"""N-best rescoring: a recognizer's hypotheses (speech, OCR, a spelling corrector's
candidates) re-ranked by `score + weight * pll`, the masked-LM pseudo-log-likelihood
(`SentenceScorer`) added to the recognizer's own score; `tune_weight` picks the weight on
lists whose reference is known.

An n-best list is a JSON object: `{"id": ..., "hypotheses": [{"text": ..., "score": ...},
...]}`, `score` the recognizer's log-score (0 when absent), and for tuning or evaluation a
`"reference"` text. Its other keys are kept.
"""

from __future__ import annotations

import numbers
import os

import numpy as np

from tfbert.data.readers import records
from tfbert.evaluation.error_rate import edit_distance, units

# Candidate weights `tune_weight` evaluates at most (spread over the breakpoints).
MAX_CANDIDATES = 4000


def read_nbest(path, need_reference: bool = False) -> list[dict]:
    """The n-best lists of a JSONL file, checked; a bad line is a one-line error naming the
    file, the line and what was expected."""
    path = os.fspath(path)
    if not path.endswith(".jsonl"):
        raise ValueError(f"{path}: n-best lists are read from .jsonl (one list per line)")
    lists = []
    for number, row in records(path, "jsonl"):
        where = f"{path}: line {number}"
        hypotheses = row.get("hypotheses")
        if not isinstance(hypotheses, list) or not hypotheses:
            raise ValueError(f'{where}: expected "hypotheses": a non-empty list of '
                             '{"text", "score"} objects')
        checked = []
        for k, hypothesis in enumerate(hypotheses):
            if not isinstance(hypothesis, dict) or not isinstance(hypothesis.get("text"), str):
                raise ValueError(f'{where}: hypotheses[{k}] needs a string "text"')
            score = hypothesis.get("score", 0.0)
            if isinstance(score, bool) or not isinstance(score, numbers.Real) or \
                    not np.isfinite(score):
                raise ValueError(f'{where}: hypotheses[{k}]: "score" must be a finite '
                                 f"number. Received: {score!r}")
            checked.append({**hypothesis, "score": float(score)})
        if need_reference and not isinstance(row.get("reference"), str):
            raise ValueError(f'{where}: needs a string "reference" (the correct text) to '
                             "tune or evaluate on")
        lists.append({**row, "hypotheses": checked})
    if not lists:
        raise ValueError(f"{path}: no n-best lists")
    return lists


def hypothesis_texts(lists) -> list[str]:
    """Every distinct hypothesis text of `lists`, in first-seen order (what to score)."""
    return list(dict.fromkeys(h["text"] for nbest in lists for h in nbest["hypotheses"]))


def rerank(lists, pll: dict, weight: float) -> list[dict]:
    """Each list with its hypotheses re-ranked by `total = score + weight * pll` (best
    first; equal totals keep their input order), each hypothesis gaining `pll` and
    `total`, and the list `best` (the top text) and `weight`. `pll`: text -> PLL."""
    out = []
    for nbest in lists:
        scored = [{**h, "pll": pll[h["text"]], "total": h["score"] + weight * pll[h["text"]]}
                  for h in nbest["hypotheses"]]
        scored.sort(key=lambda h: -h["total"])   # stable
        out.append({**nbest, "hypotheses": scored, "best": scored[0]["text"],
                    "weight": weight})
    return out


class _Table:
    """Lists as padded arrays `(lists, hypotheses)`: scores, PLLs, each hypothesis's
    errors against its reference and whether it is the reference."""

    def __init__(self, lists, pll):
        width = max(len(nbest["hypotheses"]) for nbest in lists)
        shape = (len(lists), width)
        self.score, self.pll = np.zeros(shape), np.zeros(shape)
        self.real = np.zeros(shape, bool)
        self.errors, self.exact = np.zeros(shape), np.zeros(shape, bool)
        self.length = np.array([len(units(nbest["reference"])) for nbest in lists])
        for i, nbest in enumerate(lists):
            reference = units(nbest["reference"])
            for k, h in enumerate(nbest["hypotheses"]):
                self.score[i, k], self.pll[i, k], self.real[i, k] = h["score"], pll[h["text"]], True
                self.errors[i, k] = edit_distance(units(h["text"]), reference)
                self.exact[i, k] = h["text"] == nbest["reference"]

    def choices(self, weights):
        """`(weights, lists)`: the index each list ranks first under each weight."""
        total = self.score[None] + np.asarray(weights, float)[:, None, None] * self.pll[None]
        return np.where(self.real[None], total, -np.inf).argmax(-1)

    def metrics(self, chosen):
        """`(error rate, share of lists whose reference ranks first)` per row of `chosen`."""
        rows = np.arange(self.score.shape[0])
        errors = self.errors[rows, chosen].sum(-1) / max(self.length.sum(), 1)
        return errors, self.exact[rows, chosen].mean(-1)

    def evaluate(self, weight) -> dict:
        errors, first = self.metrics(self.choices([weight]))
        return {"weight": weight, "lists": len(self.length), "error_rate": float(errors[0]),
                "first": float(first[0])}


def evaluate(lists, pll: dict, weight: float) -> dict:
    """On lists with references: the `error_rate` (edit distance of each list's top
    hypothesis to its reference over the references' length, in words; characters for
    Chinese) and `first` (how often the reference ranks first) under `weight`."""
    return _Table(lists, pll).evaluate(weight)


def tune_weight(lists, pll: dict) -> dict:
    """The weight >= 0 with the lowest error rate on `lists` (references needed); on equal
    error rates, the one ranking the reference first most often, then the smallest.
    Exact: the top hypothesis changes only where two totals cross, so one weight between
    each pair of neighbouring crossings is tried (at most `MAX_CANDIDATES`, spread).
    `before`: the same figures at weight 0 (the hypotheses' scores alone)."""
    table = _Table(lists, pll)
    # Where hypotheses j and k of a list swap places: score_j + w pll_j = score_k + w pll_k.
    ds = table.score[:, :, None] - table.score[:, None, :]
    dp = table.pll[:, None, :] - table.pll[:, :, None]
    both = table.real[:, :, None] & table.real[:, None, :] & (dp != 0)
    crossings = np.unique(ds[both] / dp[both])
    crossings = crossings[crossings > 0]
    candidates = np.concatenate([[0.0], (crossings[:-1] + crossings[1:]) / 2,
                                 crossings[-1:] * 2 + 1.0])
    if len(candidates) > MAX_CANDIDATES:
        candidates = candidates[np.linspace(0, len(candidates) - 1, MAX_CANDIDATES).astype(int)]
    # 256 weights at a time: the totals are (weights, lists, hypotheses).
    found = [table.metrics(table.choices(candidates[i:i + 256]))
             for i in range(0, len(candidates), 256)]
    errors = np.concatenate([e for e, _ in found])
    first = np.concatenate([f for _, f in found])
    best = int(np.lexsort((candidates, -first, errors))[0])
    return {"weight": float(candidates[best]), "lists": len(lists),
            "error_rate": float(errors[best]), "first": float(first[best]),
            "before": table.evaluate(0.0)}


def rescore(scorer, lists, weight: float | None = None, tune_on=None, progress=False):
    """`(re-ranked lists, report)`: `lists` scored by `scorer` (a `SentenceScorer`) and
    re-ranked with `weight` (default 1.0), or with the weight `tune_weight` picks on
    `tune_on` (n-best lists with references). `report` holds the weight (and how it was
    tuned) and, when every list has a reference, the error rate and `first` share before
    (the recognizer's scores alone) and after."""
    if weight is not None and tune_on is not None:
        raise ValueError("give a weight or lists to tune it on, not both")
    if weight is not None and (weight < 0 or not np.isfinite(weight)):
        raise ValueError(f"--weight must be a finite number >= 0. Received: {weight}")
    # Every distinct text of both sets, scored once.
    texts = hypothesis_texts(lists + (tune_on or []))
    pll = {a["text"]: a["pll"] for a in scorer.score(texts, progress=progress)}
    report = {}
    if tune_on is not None:
        report["tuned"] = tune_weight(tune_on, pll)
        weight = report["tuned"]["weight"]
    weight = 1.0 if weight is None else float(weight)
    report["weight"] = weight
    if all(isinstance(nbest.get("reference"), str) for nbest in lists):
        table = _Table(lists, pll)
        report["before"], report["after"] = table.evaluate(0.0), table.evaluate(weight)
    return rerank(lists, pll, weight), report
