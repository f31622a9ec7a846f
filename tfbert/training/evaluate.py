"""`tfbert evaluate`: a model directory scored on labelled data, with a JSON + Markdown
report (and a confusion-matrix PNG for classification)."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from tfbert import evaluation
from tfbert.data.readers import LABEL_SEPARATOR
from tfbert.training import scoring, tasks


def write_evaluation(metrics, task, labels, path, details=None) -> list:
    """`path` (JSON, metrics at the top level), its Markdown twin and, for classification,
    `<stem>_confusion.png` (single-label) and `<stem>_reliability.png` (the reliability
    diagram of the scores). Returns the paths written."""
    title = f"tfbert evaluation: {task}"
    paths = evaluation.write_report(metrics, path, title, details=details)
    stem = os.path.splitext(path)[0]
    if task in ("classify", "pair") and "confusion_matrix" in metrics:
        paths.append(evaluation.plot_confusion_matrix(metrics["confusion_matrix"], labels,
                                                      stem + "_confusion.png"))
    if metrics.get("reliability"):
        paths.append(evaluation.plot_reliability_diagram(
            metrics["reliability"], stem + "_reliability.png", metrics.get("ece")))
    return paths


def pretrain_metrics(model, data_dir, vocab, batch_size=32, max_batches=0, seed=0,
                     verify=True) -> dict:
    """Masked-LM accuracy and perplexity (and next-sentence accuracy when the model has
    the head) on a `pretrain-data` directory, with masks fixed by `seed`."""
    from tfbert.data.masking import masked_batches
    from tfbert.data.pretraining import check_vocab_size, read_manifest, verify_shards

    if verify:  # (pre-training checks its --dev once, before the first step)
        manifest = read_manifest(data_dir)
        check_vocab_size(data_dir, manifest, len(vocab), "the model's vocabulary")
        verify_shards(data_dir, manifest)
    batches, _ = masked_batches(data_dir, vocab, batch_size, seed, epoch=0, shuffle=False)
    if max_batches:
        batches = batches.take(max_batches)
    correct = total = loss_sum = nsp_correct = nsp_total = 0.0
    for inputs, targets in batches:
        outputs = scoring.model_outputs(model, {k: v.numpy() for k, v in inputs.items()},
                                        batch_size)
        weights = targets["masked_weights"].numpy()
        ids = targets["masked_ids"].numpy()
        logits = outputs["mlm_logits"]
        log_probs = logits - logits.max(-1, keepdims=True)
        log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
        picked = np.take_along_axis(log_probs, ids[..., None], -1)[..., 0]
        loss_sum += float(-(picked * weights).sum())
        correct += float(((logits.argmax(-1) == ids) * weights).sum())
        total += float(weights.sum())
        if "nsp_logits" in outputs:
            labels = targets["next_sentence_label"].numpy()
            nsp_correct += float((outputs["nsp_logits"].argmax(-1) == labels).sum())
            nsp_total += len(labels)
    if not total:
        raise ValueError(f"{data_dir}: no masked positions to score (too few instances for "
                         f"one batch of {batch_size}?)")
    mlm = evaluation.masked_lm_metrics(correct, total, loss_sum)
    metrics = {"mlm_accuracy": mlm["accuracy"], "perplexity": mlm["perplexity"],
               "mlm_loss": mlm["loss"], "predictions": mlm["predictions"]}
    if nsp_total:
        metrics["nsp_accuracy"] = nsp_correct / nsp_total
    return metrics


def evaluate_model(model_path, data_path, output=None, batch_size=64, columns=None,
                   max_batches=0, progress=False, doc_stride=None,
                   label_separator=LABEL_SEPARATOR) -> dict:
    """Scores the model directory `model_path` on `data_path` (the task's file format;
    a `pretrain-data` directory for pre-trained models). Writes the report to `output`
    when given. Returns the metrics. `progress`: show a bar (fine-tuned models).
    `doc_stride`: qa and ner windows this many pieces apart, and classify/pair ones of a
    model fine-tuned with windows (default: the model's). Multi-label classifiers read a
    list of labels per example (`label_separator` joins them in a CSV/TSV cell) and decide
    at the thresholds of their `task.json`."""
    from tfbert.convert.loader import model_from_checkpoint, read_checkpoint
    from tfbert.tokenization import BertTokenizer, read_vocab

    checkpoint = read_checkpoint(model_path)
    spec = checkpoint.spec.with_stride(doc_stride)
    if not checkpoint.vocab_file:
        raise ValueError(f"{model_path}: has no vocab.txt; expected a tfbert model directory")
    model = model_from_checkpoint(checkpoint)
    if spec.task == "pretrain":
        metrics = pretrain_metrics(model, data_path, read_vocab(checkpoint.vocab_file),
                                   batch_size, max_batches)
    elif spec.task in scoring.MAIN_METRIC:
        columns = columns or tasks.Columns()
        if columns.label is None:   # multi-label files name the column "labels"
            columns = dataclasses.replace(columns,
                                          label="labels" if spec.multi_label else "label")
        tokenizer = BertTokenizer.from_file(checkpoint.vocab_file, lowercase=spec.lowercase)
        data = tasks.load_task_data(spec.task, data_path, tokenizer, list(spec.labels),
                                    spec.max_length, columns, spec.doc_stride,
                                    spec.max_query_length, spec.multi_label, label_separator,
                                    bool(spec.window_pooling))
        metrics = scoring.score(spec.task, list(spec.labels),
                                scoring.model_outputs(model, data.inputs, batch_size,
                                                      progress), data,
                                spec.no_answer, spec.tag_scheme, multi_label=spec.multi_label,
                                temperature=spec.temperature, thresholds=spec.thresholds,
                                window_pooling=spec.window_pooling,
                                null_threshold=spec.null_threshold)
        windows = data.size
    else:
        raise ValueError(f"{model_path}: a {spec.task!r} model has no task to evaluate; "
                         "expected a fine-tuned or pre-trained model directory")
    if output:
        write_evaluation(metrics, spec.task, list(spec.labels), output,
                         details={"model": os.path.abspath(model_path),
                                  "data": os.path.abspath(data_path), "task": spec.task,
                                  # The windows actually scored, and their stride.
                                  **({"doc_stride": spec.doc_stride, "windows": windows}
                                     if spec.windows else {}),
                                  **({"window_pooling": spec.window_pooling}
                                     if spec.window_pooling else {}),
                                  **({"null_threshold": spec.null_threshold}
                                     if spec.no_answer else {})})
    return metrics
