"""Classification loss with class weights and focal loss, against numpy references."""

import numpy as np
import pytest
import tensorflow as tf

from tfbert.training.losses import ClassificationLoss

rng = np.random.default_rng(0)
LOGITS = rng.normal(0, 2, (10, 3)).astype("float32")
LABELS = rng.integers(0, 3, 10).astype("int32")
MULTI = (rng.random((10, 3)) < 0.4).astype("int32")
WEIGHTS = [0.5, 2.0, 1.3]


def loss_value(loss, labels, logits=LOGITS):
    targets = {"labels": tf.constant(labels)}
    sums = loss.sums({"logits": tf.constant(logits)}, targets)
    counts = loss.counts(targets)
    return float(sums["loss"] / counts["loss"])


def reference(labels, weights, gamma):
    """Per-example w_y * (1 - p_y)^gamma * -log p_y, averaged over the examples (not over
    the weights)."""
    shifted = LOGITS - LOGITS.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    p_t = p[np.arange(len(labels)), labels]
    w = np.ones(3) if weights is None else np.asarray(weights)
    return np.mean(w[labels] * (1 - p_t) ** gamma * -np.log(p_t))


def multi_reference(labels, weights, gamma):
    """Per label: -(w y log s + (1 - y) log(1 - s)) times (1 - p_t)^gamma; mean over the
    labels, then over the examples."""
    s = 1 / (1 + np.exp(-LOGITS.astype("float64")))
    p_t = np.where(labels == 1, s, 1 - s)
    w = np.ones(3) if weights is None else np.asarray(weights)
    per_label = np.where(labels == 1, w, 1.0) * (1 - p_t) ** gamma * -np.log(p_t)
    return per_label.mean(axis=1).mean()


@pytest.mark.parametrize("weights", [None, WEIGHTS])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_weighted_focal_loss_matches_numpy(weights, gamma):
    loss = ClassificationLoss(class_weights=weights, focal_gamma=gamma)
    np.testing.assert_allclose(loss_value(loss, LABELS), reference(LABELS, weights, gamma),
                               rtol=1e-5)


@pytest.mark.parametrize("weights", [None, WEIGHTS])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_multi_label_weights_are_positive_weights_and_focal_is_per_label(weights, gamma):
    loss = ClassificationLoss(multi_label=True, class_weights=weights, focal_gamma=gamma)
    np.testing.assert_allclose(loss_value(loss, MULTI), multi_reference(MULTI, weights, gamma),
                               rtol=1e-5)


@pytest.mark.parametrize("multi_label, labels", [(False, LABELS), (True, MULTI)])
def test_gamma_zero_and_unit_weights_are_plain_cross_entropy(multi_label, labels):
    plain = loss_value(ClassificationLoss(multi_label), labels)
    for same in (ClassificationLoss(multi_label, focal_gamma=0.0),
                 ClassificationLoss(multi_label, class_weights=[1.0, 1.0, 1.0])):
        assert loss_value(same, labels) == pytest.approx(plain, rel=1e-6)
    # and the options do change it
    assert loss_value(ClassificationLoss(multi_label, focal_gamma=2.0), labels) < plain


def test_the_count_is_the_examples_not_the_weights():
    # Keras' class_weight convention: weights 2 everywhere double the loss (a weighted
    # mean would leave it unchanged).
    plain = loss_value(ClassificationLoss(), LABELS)
    doubled = loss_value(ClassificationLoss(class_weights=[2.0, 2.0, 2.0]), LABELS)
    assert doubled == pytest.approx(2 * plain, rel=1e-6)


def test_focal_gradient_is_finite_where_the_model_is_sure():
    # p_t rounds to 1: (1 - p_t)^0.5 has an infinite slope at 0.
    logits = tf.Variable([[60.0, -60.0], [0.3, -0.2]])
    for multi_label, labels in ((False, [0, 1]), (True, [[1, 0], [0, 1]])):
        loss = ClassificationLoss(multi_label, focal_gamma=0.5)
        with tf.GradientTape() as tape:
            value = loss.sums({"logits": logits}, {"labels": tf.constant(labels)})["loss"]
        gradient = tape.gradient(value, logits).numpy()
        assert np.isfinite(gradient).all(), gradient
        assert np.abs(gradient[1]).sum() > 0
