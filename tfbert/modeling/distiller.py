"""A student task model beside a frozen teacher: what a distillation loss reads."""

import keras
from keras import ops


class Distiller(keras.Model):
    """Runs `student` (a task model: classifier, token classifier or span QA) and, for
    intermediate-layer transfer, the frozen `teacher` encoder on the same inputs.

    Outputs the student's task outputs and, for each pair `i` of `layer_map` (`(student
    layer, teacher layer)`, layer 0 being the embeddings' output and layer `k` block
    `k - 1`'s): `student_hidden_i` (the student's hidden states, through a learned dense
    projection to the teacher's width when the widths differ) and `teacher_hidden_i`, both
    `(batch, seq, teacher hidden)`; for pairs of blocks also `student_attention_i` and
    `teacher_attention_i`, the attention probabilities `(batch, heads, seq, seq)`,
    averaged over the heads when the two have different head counts. The teacher's
    outputs carry no gradient. With an empty `layer_map` the teacher is not run at all
    (soft targets are computed once, before training).

    The projections exist only while training; the student is an ordinary task model.

    Example:
    >>> config = BertConfig.from_name("tiny", vocab_size=100)
    >>> teacher = BertEncoder.from_bert_config(config)
    >>> student = BertClassifier(BertEncoder.from_bert_config(config.replace(
    ...     num_layers=1, hidden_size=64, num_heads=1)), num_classes=3)
    >>> distiller = Distiller(student, teacher, layer_map=[(0, 0), (1, 2)])
    >>> ids = np.array([[2, 7, 3, 0]])
    >>> out = distiller({"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...                  "padding_mask": (ids != 0).astype("int32")})
    >>> tuple(out["student_hidden_1"].shape), tuple(out["student_attention_1"].shape)
    ((1, 4, 128), (1, 1, 4, 4))
    """

    def __init__(self, student, teacher=None, layer_map=(), **kwargs):
        super().__init__(**kwargs)
        self.student = student
        self.layer_map = tuple((int(s), int(t)) for s, t in layer_map)
        self.teacher = teacher if self.layer_map else None
        self.projections = []
        self.average_heads = False
        if not self.layer_map:
            return
        if teacher is None:
            raise ValueError("Distiller: a layer_map needs the teacher encoder. "
                             "Received: teacher=None")
        encoder = student.encoder
        for s, t in self.layer_map:
            if not (0 <= s <= encoder.num_layers and 0 <= t <= teacher.num_layers):
                raise ValueError(
                    f"Distiller: layer pair ({s}, {t}) is outside the student's 0..."
                    f"{encoder.num_layers} or the teacher's 0...{teacher.num_layers} layers")
        teacher.trainable = False
        if encoder.hidden_size != teacher.hidden_size:
            self.projections = [
                keras.layers.Dense(teacher.hidden_size, name=f"projection_{i}",
                                   kernel_initializer=keras.initializers.TruncatedNormal(
                                       stddev=encoder.initializer_range))
                for i in range(len(self.layer_map))]
            for projection in self.projections:
                projection.build((None, None, encoder.hidden_size))
        self.average_heads = encoder.num_heads != teacher.num_heads

    def call(self, inputs, training=None):
        encoded = self.student.encoder.call_with_internals(inputs, training=training)
        outputs = dict(self.student.head(encoded, inputs, training=training))
        if not self.layer_map:
            return outputs
        taught = self.teacher.call_with_internals(inputs, training=False)
        for i, (s, t) in enumerate(self.layer_map):
            hidden = encoded["hidden_states"][s]
            if self.projections:
                hidden = self.projections[i](hidden)
            outputs[f"student_hidden_{i}"] = hidden
            outputs[f"teacher_hidden_{i}"] = ops.stop_gradient(taught["hidden_states"][t])
            if s and t:
                mine = encoded["attention_probs"][s - 1]
                theirs = taught["attention_probs"][t - 1]
                if self.average_heads:  # (batch, 1, seq, seq)
                    mine = ops.mean(mine, axis=1, keepdims=True)
                    theirs = ops.mean(theirs, axis=1, keepdims=True)
                outputs[f"student_attention_{i}"] = mine
                outputs[f"teacher_attention_{i}"] = ops.stop_gradient(theirs)
        return outputs


def uniform_layer_map(student_layers: int, teacher_layers: int) -> tuple:
    """Pairs each student layer `j` (0: embeddings) with teacher layer `round(j * T / S)`:
    the embeddings with the embeddings, the student's top block with the teacher's."""
    return tuple((j, round(j * teacher_layers / student_layers))
                 for j in range(student_layers + 1))
