"""Scores that mean what they say, fitted on dev after fine-tuning (`finetune --calibrate`,
`tfbert calibrate`).

Temperature scaling (Guo et al. 2017): one number T divides the logits before the softmax
(the sigmoid for multi-label), chosen to minimise the dev set's negative log-likelihood. It
changes no single-label decision (the order of the logits stays), only how sure the scores
say the model is. It is kept when it lowers the dev set's expected calibration error.

Multi-label decision thresholds: for each label, the cut on its calibrated probability that
maximises the label's F1 on dev (0.5 for a label dev never holds).

The results go to `task.json` (`temperature`, `thresholds`); every runtime applies them.
"""

from __future__ import annotations

import math

import numpy as np

from tfbert.evaluation.calibration import expected_calibration_error
from tfbert.task.decoding import class_probabilities

# The inverse temperatures searched: T from 1/50 to 50.
_LOW, _HIGH = 0.02, 50.0


def negative_log_likelihood(logits, targets, multi_label=False, temperature=1.0) -> float:
    """The mean NLL of `targets` under the tempered logits (multi-label: the mean over
    every example and label of the binary cross-entropy)."""
    scaled = np.asarray(logits, np.float64) / temperature
    if multi_label:
        y = np.asarray(targets, np.float64)
        # log(1 + exp(-|x|)) + max(x, 0) - x y: the stable form of the cross-entropy.
        return float(np.mean(np.logaddexp(0.0, scaled) - scaled * y))
    shifted = scaled - scaled.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return float(-np.mean(log_probs[np.arange(len(log_probs)), np.asarray(targets)]))


def fit_temperature(logits, targets, multi_label=False) -> float:
    """The temperature minimising `negative_log_likelihood` on (`logits`, `targets`).

    The NLL is convex in the inverse temperature (the logits scale linearly with it), so a
    golden-section search over it, in log space, finds the minimum.
    """
    def loss(log_beta):
        return negative_log_likelihood(logits, targets, multi_label, math.exp(-log_beta))

    low, high = math.log(_LOW), math.log(_HIGH)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = loss(a), loss(b)
    for _ in range(80):   # the bracket shrinks to 1e-16 of its width
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = loss(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = loss(b)
    return float(round(math.exp(-(low + high) / 2), 6))


def choose_thresholds(probabilities, targets) -> tuple:
    """Per label, the threshold on `probabilities` `(examples, labels)` that maximises the
    label's F1 against 0/1 `targets` (a label is predicted when its probability is over
    its threshold): the midpoint between the last probability predicted and the next.
    Ties go to the threshold nearest 0.5; a label without positives keeps 0.5."""
    probabilities = np.asarray(probabilities, np.float64)
    targets = np.asarray(targets).astype(bool)
    chosen = []
    for p, y in zip(probabilities.T, targets.T):
        if not y.any():
            chosen.append(0.5)
            continue
        order = np.argsort(-p, kind="stable")
        p, y = p[order], y[order]
        # Predicting the top k+1: tp = cumsum, F1 = 2 tp / (k + 1 + positives); a cut only
        # between two different probabilities.
        tp = np.cumsum(y)
        f1 = 2 * tp / (np.arange(1, len(p) + 1) + y.sum())
        below = np.append(p[1:], 0.0)
        cut = (p + below) / 2
        valid = p > below
        candidates = np.flatnonzero(valid)
        best = f1[candidates].max()
        ties = candidates[np.isclose(f1[candidates], best)]
        pick = ties[np.argmin(np.abs(cut[ties] - 0.5))]
        chosen.append(float(np.clip(round(float(cut[pick]), 6), 1e-6, 1 - 1e-6)))
    return tuple(chosen)


def calibrate(logits, targets, multi_label=False, with_temperature=True) -> dict:
    """What `finetune --calibrate` stores, from dev `logits` and `targets`:
    `{"temperature", "thresholds", "kept", "ece_before", "ece_after", "fitted_temperature",
    "ece_fitted", "nll_before", "nll_after"}`. The temperature is kept only when it lowers the dev ECE (`kept`); multi-label
    thresholds are chosen on the probabilities of the temperature kept."""
    logits = np.asarray(logits, np.float64)
    before = class_probabilities(logits, multi_label)
    ece_before = expected_calibration_error(before, targets, multi_label)
    nll_before = negative_log_likelihood(logits, targets, multi_label)
    temperature = fit_temperature(logits, targets, multi_label) if with_temperature else 1.0
    after = class_probabilities(logits, multi_label, temperature)
    ece_after = expected_calibration_error(after, targets, multi_label)
    kept = with_temperature and ece_after < ece_before
    fitted = temperature if with_temperature else None
    if not kept:
        temperature, after = 1.0, before
    thresholds = choose_thresholds(after, targets) if multi_label else ()
    return {"temperature": temperature, "thresholds": thresholds, "kept": bool(kept),
            "ece_before": ece_before, "ece_after": ece_after if kept else ece_before,
            "fitted_temperature": fitted, "ece_fitted": ece_after,
            "nll_before": nll_before,
            "nll_after": negative_log_likelihood(logits, targets, multi_label, temperature)}


def calibration_details(calibration) -> dict:
    """The lines a dev report records about `calibrate`'s result."""
    details = {"temperature": calibration["temperature"],
               "fitted_temperature": calibration["fitted_temperature"],
               "dev_ece_uncalibrated": calibration["ece_before"],
               "dev_ece_with_fitted_temperature": calibration["ece_fitted"],
               "temperature_kept": calibration["kept"]}
    if calibration["thresholds"]:
        details["thresholds"] = ", ".join(f"{t:.3f}" for t in calibration["thresholds"])
    return details


def calibration_note(calibration) -> str:
    """One line for the console."""
    if calibration["fitted_temperature"] is None:
        line = "scores left uncalibrated"
    elif calibration["kept"]:
        line = (f"calibrated: temperature {calibration['temperature']:.3f} (dev ECE "
                f"{calibration['ece_before']:.4f} -> {calibration['ece_after']:.4f})")
    else:
        line = (f"temperature not kept: {calibration['fitted_temperature']:.3f} does not lower "
                f"dev ECE ({calibration['ece_before']:.4f} -> {calibration['ece_fitted']:.4f})")
    if calibration["thresholds"]:
        line += "; thresholds " + ", ".join(f"{t:.3f}" for t in calibration["thresholds"])
    return line


def calibrate_model(model_path, dev_path, columns=None, label_separator="|",
                    with_temperature=True, batch_size=64) -> dict:
    """Fits `model_path`'s temperature (and multi-label thresholds) on the labelled
    `dev_path` as `finetune --calibrate` does, and rewrites its `task.json` with them
    (atomically; weights untouched): `tfbert calibrate`. Refitting starts from the raw
    logits, so calibrating twice gives the same file. Returns `calibrate`'s result."""
    import dataclasses
    import os

    from tfbert.atomic import write_json
    from tfbert.convert.loader import model_from_checkpoint, read_checkpoint
    from tfbert.model_dir import is_model_dir
    from tfbert.task import POOLED_TASKS
    from tfbert.tokenization import BertTokenizer
    from tfbert.training import scoring, tasks

    if not is_model_dir(model_path):
        raise ValueError(f"{model_path}: not a tfbert model directory (no task.json); "
                         "calibrate rewrites a fine-tuned model's task.json")
    checkpoint = read_checkpoint(model_path)
    spec = checkpoint.spec
    if spec.task not in POOLED_TASKS:
        raise ValueError(f"{model_path}: a {spec.task!r} model; calibration is for classify "
                         "and pair models")
    columns = columns or tasks.Columns(label=None)
    if columns.label is None:
        columns = dataclasses.replace(columns, label="labels" if spec.multi_label else "label")
    tokenizer = BertTokenizer.from_file(checkpoint.vocab_file, lowercase=spec.lowercase)
    data = tasks.load_task_data(spec.task, dev_path, tokenizer, list(spec.labels),
                                spec.max_length, columns, spec.doc_stride,
                                multi_label=spec.multi_label, label_separator=label_separator,
                                windows=bool(spec.window_pooling))
    outputs = scoring.model_outputs(model_from_checkpoint(checkpoint), data.inputs, batch_size)
    # (a model fine-tuned with windows: each text's pooled logits, as every runtime has them)
    logits, truth = scoring.document_logits(outputs, data, spec.window_pooling)
    result = calibrate(logits, truth, spec.multi_label, with_temperature)
    calibrated = dataclasses.replace(spec, temperature=result["temperature"],
                                     thresholds=result["thresholds"])
    write_json(os.path.join(model_path, "task.json"), calibrated.to_dict())
    return result
