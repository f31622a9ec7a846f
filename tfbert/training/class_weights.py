"""Class weights for classify/pair fine-tuning (`--class-weights balanced|FILE`).

"balanced" is scikit-learn's `compute_class_weight("balanced")` over the training labels:
`n_examples / (n_classes * count(class))`. For a multi-label model a weight is the label's
positive-class weight, and "balanced" is its negatives over its positives (what PyTorch
suggests for `BCEWithLogitsLoss(pos_weight=)`). A FILE is a JSON object `{label: weight}`
naming every label; Python callers may give that dict itself.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

BALANCED = "balanced"


def _source(value) -> str:
    return f"--class-weights {os.fspath(value)}" if isinstance(value, (str, os.PathLike)) \
        else "--class-weights"


def parse_class_weights(value):
    """`value` ("balanced", a JSON file or a dict) checked: "balanced" or `{label: weight}`
    (labels as strings). Errors name the file and the label."""
    if value == BALANCED:
        return BALANCED
    source = _source(value)
    if isinstance(value, (str, os.PathLike)):
        if not os.path.isfile(value):
            raise ValueError(f"{source}: no such file; expected '{BALANCED}' or a JSON file "
                             "{label: weight}")
        try:
            with open(value, encoding="utf-8") as f:
                value = json.load(f)
        except (ValueError, UnicodeDecodeError) as err:
            raise ValueError(f"{source}: not JSON ({err}); expected an object "
                             "{label: weight}") from None
    if not isinstance(value, dict) or not value:
        raise ValueError(f"{source}: expected a non-empty JSON object {{label: weight}}. "
                         f"Received: {type(value).__name__}")
    weights = {}
    for label, weight in value.items():
        # (bool is an int to Python, not a weight)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) \
                or not math.isfinite(weight) or weight <= 0:
            raise ValueError(f"{source}: label {str(label)!r} has weight {weight!r}; "
                             "expected a positive number")
        weights[str(label)] = float(weight)
    return weights


def label_counts(label_ids, num_labels) -> list:
    """How many training rows carry each label: `label_ids` `(rows,)` class ids, or
    `(rows, num_labels)` 0/1 rows of a multi-label model (a label's positives)."""
    label_ids = np.asarray(label_ids)
    if label_ids.ndim == 2:
        return label_ids.sum(axis=0).astype("int64").tolist()
    return np.bincount(label_ids, minlength=num_labels).astype("int64").tolist()


def class_weights_for(value, labels, label_ids) -> list:
    """The weight of each of `labels` (in their order) for `value` (see
    `parse_class_weights`); `label_ids`: the training targets, `(examples,)` class ids or
    `(examples, classes)` 0/1 for a multi-label model."""
    label_ids = np.asarray(label_ids)
    return class_weights_from_counts(value, labels, label_counts(label_ids, len(labels)),
                                     len(label_ids), multi_label=label_ids.ndim == 2)


def class_weights_from_counts(value, labels, counts, rows, multi_label=False) -> list:
    """`class_weights_for` from the label counts alone (`label_counts`: what a `tfbert
    features` manifest records) and the number of training `rows`."""
    weights = parse_class_weights(value)
    source = _source(value)
    if weights == BALANCED:
        counts = np.asarray(counts, "float64")
        if multi_label:   # each label's negatives over its positives
            negatives = rows - counts
            for label, n, p in zip(labels, negatives, counts):
                if not n or not p:
                    raise ValueError(f"{source}: label {label!r} is on {'every' if p else 'no'}"
                                     " training example; balanced weights need both")
            return (negatives / counts).tolist()
        # (every label is read from the training file, so no count is 0)
        return (rows / (len(labels) * counts)).tolist()
    unknown = [label for label in weights if label not in labels]
    if unknown:
        raise ValueError(f"{source}: label {unknown[0]!r} is not a label of the training "
                         f"data; expected labels from {list(labels)}")
    missing = [label for label in labels if label not in weights]
    if missing:
        raise ValueError(f"{source}: label {missing[0]!r} has no weight; expected a weight "
                         "for every label of the training data")
    return [weights[label] for label in labels]
