"""Model outputs to task predictions and metrics: the dev score during training and
`tfbert evaluate`."""

from __future__ import annotations

import weakref

import numpy as np
import tensorflow as tf

from tfbert import evaluation
from tfbert.data.features import span_text
from tfbert.progress import progress_bar
from tfbert.task.decoding import best_spans, ner_tags, span_candidates

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


def qa_answers(outputs, data, no_answer=False, null_threshold=0.0) -> dict:
    """`{question id: answer text}` from the model's start/end logits over `data`'s windows."""
    spans = best_spans(outputs["start_logits"], outputs["end_logits"], data.extra,
                       len(data.examples), no_answer=no_answer, null_threshold=null_threshold)
    answers = {}
    for example, span in zip(data.examples, spans):
        if span is None:
            answers[example.id] = ""
            continue
        _, window, start, end = span
        answers[example.id] = span_text(example.context, data.extra["char_spans"][window],
                                        start, end)[0]
    return answers


def null_threshold(outputs, data) -> tuple:
    """`(threshold, F1 in percent)`: the null threshold (`TaskSpec.null_threshold`) that
    maximises F1 on `data`, as SQuAD v2.0's `find_best_thresh` chooses it from each
    question's best span and its null score minus that span's score."""
    answers, margins = {}, {}
    candidates = span_candidates(outputs["start_logits"], outputs["end_logits"], data.extra,
                                 len(data.examples))
    for example, (null, spans) in zip(data.examples, candidates):
        if not spans:   # no context span at all: "no answer" whatever the threshold
            answers[example.id], margins[example.id] = "", np.inf
            continue
        score, window, start, end = spans[0]
        answers[example.id] = span_text(example.context, data.extra["char_spans"][window],
                                        start, end)[0]
        margins[example.id] = null - score
    f1, threshold = evaluation.best_null_threshold(answers, margins, _qa_references(data))
    return threshold, f1


def _qa_references(data) -> dict:
    return {e.id: [text for text, _ in e.answers] if not e.is_impossible else []
            for e in data.examples}


def score(task, labels, outputs, data, no_answer=False, tag_scheme="",
          null_threshold=0.0) -> dict:
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
        return evaluation.qa_metrics(qa_answers(outputs, data, no_answer, null_threshold),
                                     _qa_references(data))
    raise ValueError(f"no scoring for task {task!r}")


def dev_scorer(task, labels, data, batch_size=64, no_answer=False, tag_scheme=""):
    """`evaluate(model) -> {metric: float}` for the trainer's dev evaluations."""

    def evaluate(model):
        metrics = score(task, labels, model_outputs(model, data.inputs, batch_size), data,
                        no_answer, tag_scheme)
        return {k: v for k, v in metrics.items() if isinstance(v, float)}

    return evaluate
