"""`--class-weights balanced|FILE`: scikit-learn's "balanced" formula, and one-line errors
naming the file and the label."""

import json

import numpy as np
import pytest

from tfbert.training.class_weights import class_weights_for, parse_class_weights

LABELS = ["neg", "neu", "pos"]


def test_balanced_is_n_over_classes_times_count():
    ids = np.array([0] * 6 + [1] * 3 + [2] * 1)
    # scikit-learn's compute_class_weight("balanced"): 10 / (3 * count)
    np.testing.assert_allclose(class_weights_for("balanced", LABELS, ids),
                               [10 / 18, 10 / 9, 10 / 3])


def test_balanced_multi_label_is_negatives_over_positives():
    ids = np.array([[1, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]])
    np.testing.assert_allclose(class_weights_for("balanced", LABELS, ids), [1 / 3, 3, 3])
    with pytest.raises(ValueError, match=r"--class-weights balanced: label 'neg' is on every "
                                         r"training example; balanced weights need both"):
        class_weights_for("balanced", LABELS, np.array([[1, 0, 1], [1, 1, 0]]))


def test_a_file_or_dict_gives_the_weights_in_label_order(tmp_path):
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"pos": 3, "neg": 0.5, "neu": 1}))
    assert class_weights_for(str(path), LABELS, [0, 1, 2]) == [0.5, 1.0, 3.0]
    # Python: a dict, its keys as the labels' strings
    assert class_weights_for({0: 1, 1: 2.5}, ["0", "1"], [0, 1]) == [1.0, 2.5]


@pytest.mark.parametrize("content, message", [
    ("{not json", r"not JSON .*; expected an object \{label: weight\}"),
    ("[1, 2, 3]", r"expected a non-empty JSON object \{label: weight\}. Received: list"),
    ("{}", r"expected a non-empty JSON object"),
    ('{"neg": 1, "neu": "2", "pos": 1}', r"label 'neu' has weight '2'; expected a positive"),
    ('{"neg": 1, "neu": 0, "pos": 1}', r"label 'neu' has weight 0; expected a positive"),
    ('{"neg": 1, "neu": -1.5, "pos": 1}', r"label 'neu' has weight -1.5; expected a positive"),
    ('{"neg": true, "neu": 1, "pos": 1}', r"label 'neg' has weight True; expected a positive"),
    ('{"neg": 1, "neu": NaN, "pos": 1}', r"label 'neu' has weight nan; expected a positive"),
    ('{"neg": 1, "neu": 1, "pos": 1, "meh": 2}',
     r"label 'meh' is not a label of the training data; expected labels from "
     r"\['neg', 'neu', 'pos'\]"),
    ('{"neg": 1, "pos": 1}', r"label 'neu' has no weight; expected a weight for every label"),
])
def test_file_errors_name_the_file_and_the_label(tmp_path, content, message):
    path = tmp_path / "weights.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=rf"^--class-weights {path}: {message}") as error:
        class_weights_for(str(path), LABELS, [0, 1, 2])
    assert "\n" not in str(error.value)


def test_a_missing_file_or_other_word_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"--class-weights balance: no such file; expected "
                                         r"'balanced' or a JSON file"):
        parse_class_weights("balance")
