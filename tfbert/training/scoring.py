"""Model outputs to task predictions and metrics: the dev score during training and
`tfbert evaluate`."""

from __future__ import annotations

import weakref

import keras
import numpy as np
import tensorflow as tf

from tfbert import evaluation
from tfbert.data.features import span_text
from tfbert.progress import progress_bar
from tfbert.task.decoding import (best_spans, class_probabilities, ner_tags, pool_windows,
                                  span_candidates)

# One traced inference function per model, kept outside the model so that checkpoints and
# Keras' attribute tracking never see it.
_PREDICT_FUNCTIONS = weakref.WeakKeyDictionary()
# The metric that picks the best checkpoint, per task (higher is better).
MAIN_METRIC = {"classify": "accuracy", "pair": "accuracy", "ner": "f1", "qa": "f1",
               "pretrain": "mlm_accuracy"}


def _jax_call(held):
    """`model(x, training=False)` on the JAX backend, compiled once per batch shape, on
    the variables' values at the call."""
    import jax

    compiled = jax.jit(lambda trainable, non_trainable, x: held().stateless_call(
        trainable, non_trainable, x, training=False)[0])

    def call(x):
        model = held()
        return compiled([v.value for v in model.trainable_variables],
                        [v.value for v in model.non_trainable_variables], x)
    return call


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
        if keras.backend.backend() == "jax":
            call = _jax_call(held)
        else:
            signature = [{k: tf.TensorSpec([None] * v.ndim, tf.as_dtype(v.dtype))
                          for k, v in inputs.items()}]
            call = tf.function(lambda x: held()(x, training=False),
                               input_signature=signature)
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


def document_logits(outputs, data, window_pooling):
    """classify/pair: `(texts, labels)` logits, pooled over each text's windows when `data`
    has them, and each text's label ids (multi-label: rows of 0/1)."""
    logits, gold = outputs["logits"], data.targets["labels"]
    document = data.extra.get("document_index")
    if document is None:
        return logits, gold
    count = len(data.examples)
    # Every window of a text carries its label: take one per text.
    text_labels = np.zeros((count,) + gold.shape[1:], gold.dtype)
    text_labels[document] = gold
    return pool_windows(logits, document, count, window_pooling), text_labels


def score(task, labels, outputs, data, no_answer=False, tag_scheme="", *, multi_label=False,
          temperature=1.0, thresholds=(), window_pooling="",
          null_threshold=0.0) -> dict:
    """The task's metrics for `outputs` of the model over `data` (a `TaskData`).
    classify/pair: with the scores' calibration (`ece` and the `reliability` bins) under
    the model's `temperature`; multi-label decisions at `thresholds` (default 0.5); texts
    read in windows are scored once each, on their windows' logits pooled by
    `window_pooling`. qa: "no answer" past `null_threshold` (models with `no_answer`)."""
    if task in ("classify", "pair"):
        logits, truth = document_logits(outputs, data, window_pooling)
        probabilities = class_probabilities(logits, multi_label, temperature)
        if multi_label:
            cut = np.asarray(thresholds if len(thresholds) else [0.5] * len(labels))
            metrics = evaluation.multilabel_metrics(truth, (probabilities > cut).astype(int),
                                                    labels)
        else:
            metrics = evaluation.classification_metrics(
                truth.tolist(), probabilities.argmax(-1).tolist(), labels)
        return {**metrics, **evaluation.calibration_metrics(probabilities, truth,
                                                            multi_label)}
    if task == "ner":
        predicted = ner_tags(outputs["logits"], data.extra["word_index"],
                             data.extra["sentence_index"],
                             [len(words) for words, _ in data.examples], labels, tag_scheme)
        return evaluation.ner_metrics([tags for _, tags in data.examples], predicted)
    if task == "qa":
        return evaluation.qa_metrics(qa_answers(outputs, data, no_answer, null_threshold),
                                     _qa_references(data))
    raise ValueError(f"no scoring for task {task!r}")


def main_metric(task, multi_label=False) -> str:
    """The dev metric that picks the best checkpoint: `MAIN_METRIC`, micro-F1 for
    multi-label classifiers."""
    return "micro_f1" if multi_label else MAIN_METRIC[task]


def dev_scorer(task, labels, data, batch_size=64, no_answer=False, tag_scheme="",
               multi_label=False, window_pooling=""):
    """`evaluate(model) -> {metric: float}` for the trainer's dev evaluations."""

    def evaluate(model):
        metrics = score(task, labels, model_outputs(model, data.inputs, batch_size), data,
                        no_answer, tag_scheme, multi_label=multi_label,
                        window_pooling=window_pooling)
        return {k: v for k, v in metrics.items() if isinstance(v, float)}

    return evaluate
