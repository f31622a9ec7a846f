"""How far a classifier's scores are from frequencies: reliability bins and the expected
calibration error (ECE) of Guo et al. 2017, "On Calibration of Modern Neural Networks".

A model is calibrated when, of the answers it gives with score 0.8, 80 % are right. The
scores are binned by confidence into `BINS` equal-width bins; ECE is the mean, weighted by
the bins' sizes, of |accuracy - mean confidence| per bin (0 is perfect, a fraction in
[0, 1] as every score of `tfbert.evaluation`).

Single-label: the confidence is the top class's probability, right when it is the true
class. Multi-label: every (example, label) decision counts, its confidence the probability
of the decision taken (p or 1 - p at 0.5), right when it matches the truth.
"""

from __future__ import annotations

import numpy as np

BINS = 15   # Guo et al.'s 15 equal-width bins


def _confidences(probabilities, targets, multi_label):
    """`(confidence, correct)` per decision, as the module docstring defines them."""
    probabilities = np.asarray(probabilities, np.float64)
    targets = np.asarray(targets)
    if multi_label:
        if probabilities.shape != targets.shape or probabilities.ndim != 2:
            raise ValueError(f"multi-label probabilities and targets must both be (examples, "
                             f"labels). Received: {probabilities.shape} and {targets.shape}")
        positive = probabilities > 0.5
        confidence = np.where(positive, probabilities, 1.0 - probabilities)
        return confidence.ravel(), (positive == targets.astype(bool)).ravel()
    if probabilities.ndim != 2 or targets.shape != probabilities.shape[:1]:
        raise ValueError(f"probabilities must be (examples, classes) and targets (examples,). "
                         f"Received: {probabilities.shape} and {targets.shape}")
    return probabilities.max(-1), probabilities.argmax(-1) == targets


def reliability_bins(probabilities, targets, multi_label=False, bins=BINS) -> dict:
    """`{"lo-hi": {"count", "confidence", "accuracy"}}` over `bins` equal-width confidence
    bins (empty bins left out): the rows of a reliability diagram."""
    confidence, correct = _confidences(probabilities, targets, multi_label)
    # Bin b holds (b/bins, (b+1)/bins]; a confidence of exactly 0 goes to the first.
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    table = {}
    for b in range(bins):
        chosen = index == b
        if chosen.any():
            table[f"{b / bins:.3f}-{(b + 1) / bins:.3f}"] = {
                "count": int(chosen.sum()), "confidence": float(confidence[chosen].mean()),
                "accuracy": float(correct[chosen].mean())}
    return table


def expected_calibration_error(probabilities, targets, multi_label=False, bins=BINS) -> float:
    """ECE over `bins` equal-width bins (module docstring).

    >>> expected_calibration_error([[0.9, 0.1], [0.8, 0.2]], [0, 1])  # bins 0.8, 0.9: |0-0.8|, |1-0.9|
    0.45
    """
    table = reliability_bins(probabilities, targets, multi_label, bins)
    total = sum(row["count"] for row in table.values())
    return round(float(sum(row["count"] * abs(row["accuracy"] - row["confidence"])
                           for row in table.values()) / total), 12)


def calibration_metrics(probabilities, targets, multi_label=False, bins=BINS) -> dict:
    """`{"ece": ..., "reliability": bins}` for a report (`tfbert evaluate`, dev reports)."""
    return {"ece": expected_calibration_error(probabilities, targets, multi_label, bins),
            "reliability": reliability_bins(probabilities, targets, multi_label, bins)}
