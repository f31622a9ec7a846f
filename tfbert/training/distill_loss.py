"""The distillation loss: the teacher's softened outputs, the gold labels, and (where the
student's layers map onto the teacher's) hidden-state and attention transfer.

Same interface as `losses`: `counts(targets)` and `sums(outputs, targets)`, each
`{component: float32 scalar}`, the loss being `sum(sums[c] / counts[c])`, so a distillation
step on several replicas or accumulated micro-batches is the step of one global batch.
Each component's weight is applied inside its sum; a component of weight 0 is left out.

Targets: `teacher_logits` (computed once before training), `labels` (gold; -1 where an
item has none: raw texts the teacher labelled, NER's non-first word pieces), `scored`
(NER: 1 at each word's first piece, where the teacher's tags are compared) and
`padding_mask` (the real tokens, for the layer terms).
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class DistillWeights:
    """How much each term counts. `temperature` softens both distributions of the soft
    term (Hinton et al.), which is scaled by `temperature ** 2` so its gradients keep
    their size as the temperature changes."""

    temperature: float = 2.0
    soft: float = 1.0
    hard: float = 1.0
    hidden: float = 0.0
    attention: float = 0.0

    def __post_init__(self):
        if not self.temperature > 0:
            raise ValueError(f"--temperature must be positive. Received: {self.temperature}")
        for name in ("soft", "hard", "hidden", "attention"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name}-weight must be at least 0. "
                                 f"Received: {getattr(self, name)}")
        if not (self.soft or self.hard or self.hidden or self.attention):
            raise ValueError("every loss weight is 0: give --soft-weight, --hard-weight, "
                             "--hidden-weight or --attention-weight a positive value")

    @property
    def layers(self) -> bool:
        """Whether the loss needs the teacher's layers (a teacher forward pass per step)."""
        return bool(self.hidden or self.attention)


def _log_softmax(logits, temperature):
    return tf.nn.log_softmax(tf.cast(logits, tf.float32) / temperature, axis=-1)


def soft_kl(student_logits, teacher_logits, temperature):
    """KL(teacher || student) of the softened distributions over the last axis, times
    `temperature ** 2`; one value per item (example or token)."""
    teacher = _log_softmax(teacher_logits, temperature)
    student = _log_softmax(student_logits, temperature)
    kl = tf.reduce_sum(tf.exp(teacher) * (teacher - student), axis=-1)
    return kl * temperature ** 2


class DistillationLoss:
    """The weighted terms for a `classify`/`pair` (`per_token=False`) or `ner`
    (`per_token=True`) student; `pairs`: how many layer pairs the `Distiller` compares."""

    def __init__(self, weights: DistillWeights, per_token: bool, pairs: int = 0):
        self.weights = weights
        self.per_token = per_token
        self.pairs = pairs if weights.layers else 0

    def counts(self, targets):
        labels = targets["labels"]
        counts = {}
        if self.weights.soft:
            counts["soft"] = tf.reduce_sum(tf.cast(targets["scored"], tf.float32)) \
                if self.per_token else tf.cast(tf.shape(labels)[0], tf.float32)
        if self.weights.hard:
            counts["hard"] = tf.reduce_sum(tf.cast(labels >= 0, tf.float32))
        if self.pairs:
            counts["layers"] = tf.reduce_sum(tf.cast(targets["padding_mask"], tf.float32))
        return counts

    def sums(self, outputs, targets):
        w = self.weights
        logits = tf.cast(outputs["logits"], tf.float32)
        sums = {}
        if w.soft:
            per_item = soft_kl(logits, targets["teacher_logits"], w.temperature)
            if self.per_token:
                per_item *= tf.cast(targets["scored"], tf.float32)
            sums["soft"] = w.soft * tf.reduce_sum(per_item)
        if w.hard:
            labels = tf.cast(targets["labels"], tf.int32)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=tf.maximum(labels, 0), logits=logits)
            sums["hard"] = w.hard * tf.reduce_sum(losses * tf.cast(labels >= 0, tf.float32))
        if self.pairs:
            mask = tf.cast(targets["padding_mask"], tf.float32)   # (batch, seq)
            total = tf.constant(0.0)
            for i in range(self.pairs):
                if w.hidden:
                    # Mean squared error over the hidden units, per real token.
                    error = tf.reduce_mean(tf.square(
                        tf.cast(outputs[f"student_hidden_{i}"], tf.float32)
                        - tf.cast(outputs[f"teacher_hidden_{i}"], tf.float32)), axis=-1)
                    total += w.hidden * tf.reduce_sum(error * mask)
                if w.attention and f"student_attention_{i}" in outputs:
                    total += w.attention * tf.reduce_sum(
                        _attention_kl(outputs[f"student_attention_{i}"],
                                      outputs[f"teacher_attention_{i}"], mask))
            sums["layers"] = total
        return sums


def _attention_kl(student, teacher, mask):
    """KL(teacher || student) of each real query's attention over the keys, averaged over
    the heads: `(batch, seq)`, zero at padded queries. `student`, `teacher`: `(batch,
    heads, seq, seq)` probabilities (padded keys already 0 in both)."""
    tiny = 1e-9
    teacher = tf.cast(teacher, tf.float32)
    kl = tf.reduce_sum(teacher * (tf.math.log(teacher + tiny)
                                  - tf.math.log(tf.cast(student, tf.float32) + tiny)), axis=-1)
    return tf.reduce_mean(kl, axis=1) * mask
