"""Task losses, normalised over the whole global batch.

Each loss is a sum of per-item losses divided by a count (examples, labelled tokens,
masked positions). The loop all-reduces the counts over replicas and accumulation steps
before dividing, so a step on several replicas, or k accumulated micro-batches, computes
exactly the loss of one batch of the same global size on one device.

`counts(targets)` needs only the targets; `sums(outputs, targets)` the model outputs too.
Both return `{component: float32 scalar}`; the loss is `sum(sums[c] / counts[c])`.
Written in `keras.ops`, so the TensorFlow and JAX backends train on the same losses.
"""

from __future__ import annotations

from keras import ops


def _count(x):
    return ops.sum(ops.cast(x, "float32"))


def _rows(x):
    return ops.cast(ops.shape(x)[0], "float32")


def _sparse_ce(labels, logits):
    return ops.sparse_categorical_crossentropy(
        ops.cast(labels, "int32"), ops.cast(logits, "float32"), from_logits=True)


class ClassificationLoss:
    """Softmax cross-entropy over `labels` `(batch,)`, or with `multi_label` the mean
    sigmoid cross-entropy over `labels` `(batch, classes)` of 0/1.

    `class_weights` (one positive float per class, or None) multiplies each example's loss
    by its class's weight; with `multi_label`, each label's positive term (PyTorch's
    `BCEWithLogitsLoss(pos_weight=)`). The count stays the number of examples, as Keras'
    `class_weight` has it (PyTorch's `CrossEntropyLoss(weight=)` divides by the sum of the
    weights instead): "balanced" weights average 1 over the training set, so the loss keeps
    its scale and the learning rate its meaning. `focal_gamma` > 0: the focal loss of Lin
    et al. 2017, `(1 - p_t) ** gamma` times the (weighted) cross-entropy, per label with
    `multi_label`; 0 is plain cross-entropy.
    """

    def __init__(self, multi_label=False, class_weights=None, focal_gamma=0.0):
        self.multi_label = multi_label
        self.class_weights = None if class_weights is None else \
            [float(w) for w in class_weights]        # (classes,)
        self.focal_gamma = float(focal_gamma)

    def counts(self, targets):
        return {"loss": _rows(targets["labels"])}

    def sums(self, outputs, targets):
        logits = ops.cast(outputs["logits"], "float32")
        class_weights = None if self.class_weights is None else \
            ops.convert_to_tensor(self.class_weights, "float32")
        if self.multi_label:
            labels = ops.cast(targets["labels"], "float32")           # (batch, classes)
            # max(x, 0) - x z + log(1 + exp(-|x|)): the stable form of sigmoid cross-entropy.
            losses = ops.relu(logits) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))
            weights = None if class_weights is None else \
                labels * class_weights + (1.0 - labels)               # 1 on negatives
        else:
            losses = _sparse_ce(targets["labels"], logits)            # (batch,)
            weights = None if class_weights is None else \
                ops.take(class_weights, ops.cast(targets["labels"], "int32"))
        if self.focal_gamma:
            # 1 - p_t from the cross-entropy (-log p_t) without cancellation. Floored so
            # that the power's gradient stays finite where p_t rounds to 1 (gamma < 1).
            hard = ops.maximum(-ops.expm1(-losses), 1e-12)
            losses = ops.power(hard, self.focal_gamma) * losses
        if weights is not None:
            losses = losses * weights
        if self.multi_label:
            losses = ops.mean(losses, axis=-1)
        return {"loss": ops.sum(losses)}


class TokenLoss:
    """Cross-entropy over labelled tokens; `labels` `(batch, seq)`, -1 where ignored."""

    def counts(self, targets):
        return {"loss": _count(targets["labels"] >= 0)}

    def sums(self, outputs, targets):
        labels = targets["labels"]
        weights = ops.cast(labels >= 0, "float32")
        losses = _sparse_ce(ops.maximum(labels, 0), outputs["logits"])
        return {"loss": ops.sum(losses * weights)}


class SpanLoss:
    """The mean of the start and end position cross-entropies (google-research/bert)."""

    def counts(self, targets):
        return {"loss": _rows(targets["start_positions"])}

    def sums(self, outputs, targets):
        start = _sparse_ce(targets["start_positions"], outputs["start_logits"])
        end = _sparse_ce(targets["end_positions"], outputs["end_logits"])
        return {"loss": ops.sum(start + end) / 2.0}


class PretrainLoss:
    """Masked-LM cross-entropy per predicted position plus next-sentence cross-entropy per
    example (the latter only with `next_sentence`)."""

    def __init__(self, next_sentence=True):
        self.next_sentence = next_sentence

    def counts(self, targets):
        counts = {"mlm_loss": _count(targets["masked_weights"])}
        if self.next_sentence:
            counts["nsp_loss"] = _rows(targets["next_sentence_label"])
        return counts

    def sums(self, outputs, targets):
        mlm = _sparse_ce(targets["masked_ids"], outputs["mlm_logits"])
        sums = {"mlm_loss": ops.sum(mlm * ops.cast(targets["masked_weights"], "float32"))}
        if self.next_sentence:
            sums["nsp_loss"] = ops.sum(
                _sparse_ce(targets["next_sentence_label"], outputs["nsp_logits"]))
        return sums


def for_task(task, multi_label=False, next_sentence=True, class_weights=None,
             focal_gamma=0.0):
    if task in ("classify", "pair"):
        return ClassificationLoss(multi_label, class_weights, focal_gamma)
    if task == "ner":
        return TokenLoss()
    if task == "qa":
        return SpanLoss()
    if task == "pretrain":
        return PretrainLoss(next_sentence)
    raise ValueError(f"no training loss for task {task!r}")
