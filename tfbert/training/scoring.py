"""Model outputs to task predictions and metrics: the dev score during training and
`tfbert evaluate`."""

from __future__ import annotations

import weakref

import numpy as np
import tensorflow as tf

from tfbert import evaluation
from tfbert.data.features import span_text
from tfbert.progress import progress_bar

MAX_ANSWER_PIECES = 30
# The score of a transition IOB2 forbids: far below any path of real log-probabilities,
# yet finite, so that sums never meet inf - inf.
NEVER = -1e9
# One traced inference function per model, kept outside the model so that checkpoints and
# Keras' attribute tracking never see it.
_PREDICT_FUNCTIONS = weakref.WeakKeyDictionary()
# The metric that picks the best checkpoint, per task (higher is better).
MAIN_METRIC = {"classify": "accuracy", "pair": "accuracy", "ner": "f1", "qa": "f1",
               "pretrain": "mlm_accuracy"}


def model_outputs(model, inputs, batch_size=64, progress=False) -> dict:
    """Runs `model` (inference mode) over numpy `inputs` in batches; numpy outputs.
    `progress`: show a bar over the examples."""
    # One trace per input structure, for any batch size and width (no retracing as the
    # batches' widths change).
    structure = tuple(sorted((k, v.ndim, str(v.dtype)) for k, v in inputs.items()))
    functions = _PREDICT_FUNCTIONS.setdefault(model, {})
    call = functions.get(structure)
    if call is None:
        held = weakref.ref(model)  # the function must not keep its own key alive
        signature = [{k: tf.TensorSpec([None] * v.ndim, tf.as_dtype(v.dtype))
                      for k, v in inputs.items()}]
        call = tf.function(lambda x: held()(x, training=False), input_signature=signature)
        functions[structure] = call
    size, full = inputs["token_ids"].shape
    parts = []
    bar = progress_bar(size, progress, unit_name="example")
    for start in range(0, size, batch_size):
        # Cut the batch to its longest row (rounded up to 16: few shapes to trace), then
        # pad per-position outputs back to the full width.
        longest = int(inputs["padding_mask"][start:start + batch_size].sum(1).max())
        # (Masked-LM outputs are per masked position, not per token: no cut.)
        width = full if "masked_positions" in inputs else min(full, -(-longest // 16) * 16)
        batch = {k: v[start:start + batch_size, :width] if v.ndim == 2 and v.shape[1] == full
                 else v[start:start + batch_size] for k, v in inputs.items()}
        outputs = {}
        for key, value in call(batch).items():
            value = np.asarray(value, np.float32)
            per_token = value.ndim == 3 or key in ("start_logits", "end_logits")
            if per_token and width < full:
                padding = [(0, 0), (0, full - width)] + [(0, 0)] * (value.ndim - 2)
                value = np.pad(value, padding)
            outputs[key] = value
        parts.append(outputs)
        bar.update(min(start + batch_size, size))
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def softmax(logits, axis=-1):
    shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def detect_tag_scheme(sentences) -> tuple:
    """`("IOB2", None)` when every entity in `sentences` (`[(words, tags)]`) opens with
    `B-` (an `I-X` only ever follows `B-X` or `I-X`), else `("IOB1", (sentence number,
    tag))` naming the first entity that opens with `I-`. Recorded in task.json: only IOB2
    models decode with `constrained_tags`."""
    for number, (_, tags) in enumerate(sentences, 1):
        previous = "O"
        for tag in tags or ():
            if tag.startswith("I-") and (previous[:2] not in ("B-", "I-")
                                         or previous[2:] != tag[2:]):
                return "IOB1", (number, tag)
            previous = tag
    return "IOB2", None


def transitions(labels):
    """`(allowed (K, K), may_start (K,))` of IOB2: `I-X` only after `B-X` or `I-X`, and
    not first; any other tag anywhere."""
    inside = [label[2:] if label.startswith("I-") else None for label in labels]
    kinds = [label[2:] if label[:2] in ("B-", "I-") else None for label in labels]
    allowed = np.array([[inside[j] is None or inside[j] == kinds[i]
                         for j in range(len(labels))] for i in range(len(labels))])
    return allowed, np.array([k is None for k in inside])


def constrained_tags(log_probs, labels):
    """The most probable IOB2-valid tag sequence (ids) for `log_probs` `(words, K)`.

    Viterbi over the words' tag log-probabilities with the transitions `transitions`
    allows, written so that the SavedModel's graph (`graph_tasks.constrained_tags`) can do
    the same with dense ops: each tag's max-marginal (the best valid path's score through
    it, forward plus backward), then, left to right, the best tag among those allowed after
    the tag just chosen. Without ties that is the Viterbi path; with ties it is still valid.
    An argmax per word can emit `O I-LOC`, which the entity rules read as a fragment of its
    own; this cannot.
    """
    log_probs = np.asarray(log_probs, np.float64)   # as the graph, which sums in float64
    if not len(log_probs):
        return np.zeros(0, np.int64)
    allowed, may_start = transitions(labels)
    penalty = np.where(allowed, 0.0, NEVER)   # (from, to)
    forward = np.empty_like(log_probs)
    forward[0] = log_probs[0] + np.where(may_start, 0.0, NEVER)
    for t in range(1, len(log_probs)):
        forward[t] = (forward[t - 1][:, None] + penalty).max(0) + log_probs[t]
    backward = np.zeros_like(log_probs)
    for t in range(len(log_probs) - 2, -1, -1):
        backward[t] = (penalty + (log_probs[t + 1] + backward[t + 1])[None, :]).max(1)
    marginals = forward + backward
    tags, permitted = [], may_start
    for t in range(len(log_probs)):
        tags.append(int(np.where(permitted, marginals[t], -np.inf).argmax()))
        permitted = allowed[tags[-1]]
    return np.array(tags, np.int64)


def log_softmax(logits, axis=-1):
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def ner_tags(logits, word_index, sentence_index, sentence_lengths, labels, scheme=""):
    """Per sentence, a tag per word from the logits at the word's first piece (in
    whichever window of the sentence holds it); a word with no pieces gets `O`. With
    `scheme="IOB2"` the sentence's tags are `constrained_tags` over its words, else each
    word's argmax."""
    # A word with no pieces is `O` (for IOB2 decoding: a word certain to be `O`, so the
    # sequence stays valid across it).
    only_o = np.full(len(labels), NEVER)
    only_o[labels.index("O") if "O" in labels else 0] = 0.0
    word_logits = [[only_o] * length for length in sentence_lengths]
    for row, sentence in enumerate(sentence_index):
        for position in np.flatnonzero(word_index[row] >= 0):
            word_logits[sentence][word_index[row, position]] = logits[row, position]
    tags = []
    for words in word_logits:
        if not words:
            tags.append([])
            continue
        scores = np.stack(words).astype(np.float64)
        ids = constrained_tags(log_softmax(scores), labels) if scheme == "IOB2" \
            else scores.argmax(-1)
        tags.append([labels[i] for i in ids])
    return tags


def best_spans(start_logits, end_logits, windows, num_examples, max_pieces=MAX_ANSWER_PIECES,
               no_answer=False):
    """Per example, `(score, window, start, end)` of the best span over all its windows:
    the highest start + end logit with start <= end < start + max_pieces inside the
    context; `None` when no window has a context span, or, with `no_answer` (a model
    trained on SQuAD v2 data), when the `[CLS]` score beats the best span in the window
    where it is lowest (google-research/bert's null score with threshold 0)."""
    best = [None] * num_examples
    null = [np.inf] * num_examples
    for w, example in enumerate(windows["example_index"]):
        null[example] = min(null[example], float(start_logits[w, 0] + end_logits[w, 0]))
        in_context = windows["char_spans"][w, :, 0] >= 0
        starts = np.where(in_context, start_logits[w], -np.inf)
        ends = np.where(in_context, end_logits[w], -np.inf)
        scores = starts[:, None] + ends[None, :]
        length = np.arange(len(starts))
        allowed = (length[None, :] >= length[:, None]) & \
            (length[None, :] < length[:, None] + max_pieces)
        scores = np.where(allowed, scores, -np.inf)
        flat = int(scores.argmax())
        score = float(scores.flat[flat])
        if np.isfinite(score) and (best[example] is None or score > best[example][0]):
            best[example] = (score, w, *divmod(flat, len(starts)))
    if no_answer:
        best = [None if span is None or null[e] > span[0] else span
                for e, span in enumerate(best)]
    return best


def qa_answers(outputs, data, no_answer=False) -> dict:
    """`{question id: answer text}` from the model's start/end logits over `data`'s windows."""
    spans = best_spans(outputs["start_logits"], outputs["end_logits"], data.extra,
                       len(data.examples), no_answer=no_answer)
    answers = {}
    for example, span in zip(data.examples, spans):
        if span is None:
            answers[example.id] = ""
            continue
        _, window, start, end = span
        answers[example.id] = span_text(example.context, data.extra["char_spans"][window],
                                        start, end)[0]
    return answers


def score(task, labels, outputs, data, no_answer=False, tag_scheme="") -> dict:
    """The task's metrics for `outputs` of the model over `data` (a `TaskData`)."""
    if task in ("classify", "pair"):
        return evaluation.classification_metrics(
            data.targets["labels"].tolist(), outputs["logits"].argmax(-1).tolist(), labels)
    if task == "ner":
        predicted = ner_tags(outputs["logits"], data.extra["word_index"],
                             data.extra["sentence_index"],
                             [len(words) for words, _ in data.examples], labels, tag_scheme)
        return evaluation.ner_metrics([tags for _, tags in data.examples], predicted)
    if task == "qa":
        references = {e.id: [text for text, _ in e.answers] if not e.is_impossible else []
                      for e in data.examples}
        return evaluation.qa_metrics(qa_answers(outputs, data, no_answer), references)
    raise ValueError(f"no scoring for task {task!r}")


def dev_scorer(task, labels, data, batch_size=64, no_answer=False, tag_scheme=""):
    """`evaluate(model) -> {metric: float}` for the trainer's dev evaluations."""

    def evaluate(model):
        metrics = score(task, labels, model_outputs(model, data.inputs, batch_size), data,
                        no_answer, tag_scheme)
        return {k: v for k, v in metrics.items() if isinstance(v, float)}

    return evaluate
