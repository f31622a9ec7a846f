"""The jobs of the `tfbert` command as Python functions: `finetune`, `pretrain`, `evaluate`,
`distill`, `trim_vocab` (the exports are `tfbert.export_saved_model` and
`tfbert.export_tflite`).

Each takes the command's options as keyword arguments (`--max-length` is `max_length`) and
returns what the command prints; errors name the parameter. `finetune` takes its training
and dev data as a file or as records in memory:

- classify: `[{"text": …, "label": …}]` (or `(text, label)` tuples);
- pair: `[{"text": …, "pair": …, "label": …}]` (or `(text, pair, label)`);
- ner: `[(words, tags)]` (or `{"tokens": [...], "tags": [...]}`);
- qa: SQuAD records `[{"question", "context", "answers": [{"text", "answer_start"}]}]`.

Records are written to `OUT/data/` (the file's name holds its digest, so running again with
the same records resumes the same run) and read as files are. `train` may also be a
directory `tfbert features` wrote: its shards are streamed, for data larger than memory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re

from tfbert.atomic import atomic_file
from tfbert.training.choices import FINETUNE_DEFAULTS, PRETRAIN_DEFAULTS, SETTING_NAMES


@dataclasses.dataclass(frozen=True)
class FinetuneResult:
    """What `finetune` (or `pretrain`) made: the model directory, the optimizer steps run
    and the dev metrics of the weights written (None without dev data, and for
    `pretrain`)."""

    model_dir: str
    steps: int
    metrics: dict | None


def python_names(message: str, names) -> str:
    """A job's error message with the command-line flags of `names` (the Python function's
    parameters) as those names (`--max-length` → `max_length`, `--no-load-weights` →
    `load_weights=False`): the Python API and the CLI
    share their checks. Other flags (`pip install --no-deps`) stay as they are."""
    def rename(match):
        name = match.group(1).replace("-", "_")
        if name.startswith("no_") and name[3:] in names:   # --no-load-weights
            return f"{name[3:]}=False"
        return name if name in names else match.group(0)

    return re.sub(r"(?<![\w-])--([a-z][a-z0-9-]*)", rename, message)


class _PythonErrors:
    """Re-raises a `ValueError` from inside a job with the Python parameter names of
    `function` (and the training settings)."""

    def __init__(self, function):
        import inspect

        self.names = set(inspect.signature(function).parameters) | set(SETTING_NAMES)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is ValueError:
            raise ValueError(python_names(str(error), self.names)) from None
        return False



def finetune(task, train, out, dev=None, init=None, load_weights=True, preset=None,
             vocab=None, cased=False,
             max_length=None, text_column="text", pair_column="pair", label_column=None,
             doc_stride=None, max_query_length=64, pooling=None, multi_label=False,
             label_separator="|", calibrate=True, class_weights=None, focal_gamma=0.0,
             layer_decay=1.0, window_pooling=None,
             strategy="auto", verbose=True, **settings) -> FinetuneResult:
    """Fine-tunes a `task` head ("classify", "pair", "ner", "qa") on `train` (a file or
    records, see the module docstring) from `init` (a checkpoint name such as
    `all-MiniLM-L6-v2`, or any checkpoint directory) or a fresh `preset` size with `vocab`,
    and writes the model directory `out` (running again resumes). `load_weights=False`:
    `init`'s architecture, vocabulary and casing with random weights (what its
    pre-training bought, measured by the same fine-tuning without it).

    `settings` are the training options of `tfbert finetune` (`epochs`, `batch_size`,
    `learning_rate`, `max_steps`, `seed`, …; defaults as the command's). `pooling`
    defaults to what `init` declares (sentence-transformers checkpoints: "mean"), else
    "cls". `multi_label`: each example has a list of labels (`"labels"` unless
    `label_column` says otherwise; in CSV/TSV joined by `label_separator`). `calibrate`:
    with `dev`, fit a temperature (and multi-label thresholds) on it, as
    `tfbert finetune --calibrate`. `class_weights` ("balanced", a JSON file or a dict
    `{label: weight}`) and `focal_gamma` weigh the loss of classify/pair against class
    imbalance.
    `layer_decay` < 1: layer-wise learning-rate decay (`--layer-decay`).
    classify/pair: `doc_stride` or `window_pooling` ("mean", "max") reads long texts in
    windows and pools their logits (see `tfbert finetune --window-pooling`).

    Example:
    >>> result = tfbert.finetune("classify", train=[{"text": "great", "label": "pos"}, ...],
    ...                          out="runs/mine", init="all-MiniLM-L6-v2")  # doctest: +SKIP
    >>> result.metrics["accuracy"]                                         # doctest: +SKIP
    """
    with _PythonErrors(finetune):
        from tfbert.training.finetune import FinetuneJob, finetune as run
        from tfbert.training.tasks import Columns

        job_settings = _settings(settings, FINETUNE_DEFAULTS)
        written, existed = [], os.path.exists(out)
        train = records_file(task, train, out, "train", written)
        dev = records_file(task, dev, out, "dev", written) if dev is not None else None
        try:
            job = FinetuneJob(task=task, train=train, dev=dev, out=os.fspath(out), init=init,
                              load_weights=load_weights, preset=preset, vocab=vocab, lowercase=not cased,
                              max_length=max_length,
                              columns=Columns(text_column, label_column, pair_column),
                              doc_stride=doc_stride, max_query_length=max_query_length,
                              pooling=pooling, multi_label=multi_label,
                              label_separator=label_separator, calibrate=calibrate,
                              class_weights=class_weights, focal_gamma=focal_gamma,
                              layer_decay=layer_decay, window_pooling=window_pooling,
                              strategy=strategy, settings=job_settings)
            result, metrics = run(job, verbose=verbose)
        except ValueError:
            from tfbert.training.checkpoints import RUN_FILE

            # Refused before the run began (no run.json): the records written for it go.
            if not os.path.isfile(os.path.join(os.fspath(out), "checkpoints", RUN_FILE)):
                _remove(written, out, existed)
            raise
    return FinetuneResult(os.fspath(out), int(result.step), metrics)


def pretrain(data, out, vocab=None, preset="small", init=None, dev=None, next_sentence=True,
             whole_word=None, max_predictions=0, strategy="auto", verbose=True,
             **settings) -> FinetuneResult:
    """Pre-trains (masked LM, and next sentence unless `next_sentence=False`) a fresh
    `preset` size, or continues `init`, on `data`, a `tfbert pretrain-data` directory, and
    writes the model directory `out` (running again resumes). `settings` are the training
    options of `tfbert pretrain` (defaults as the command's: 1 epoch at 1e-4). Returns the
    model directory and the optimizer steps (`metrics` None)."""
    with _PythonErrors(pretrain):
        from tfbert.training.pretrain import PretrainJob, pretrain as run

        job = PretrainJob(data=os.fspath(data), out=os.fspath(out), vocab=vocab, preset=preset,
                          init=init, dev=dev, next_sentence=next_sentence,
                          whole_word=whole_word, max_predictions=max_predictions,
                          strategy=strategy,
                          settings=_settings(settings, PRETRAIN_DEFAULTS))
        result = run(job, verbose=verbose)
    return FinetuneResult(os.fspath(out), int(result.step), None)


def distill(teacher, train, out, dev=None, unlabeled=None, student=None, student_layers=None,
            student_init=None, embedding_init=True, max_length=None, temperature=2.0,
            soft_weight=1.0, hard_weight=1.0, hidden_weight=0.0, attention_weight=0.0,
            text_column="text", pair_column="pair", label_column="label", strategy="auto",
            verbose=True, **settings) -> FinetuneResult:
    """Distils `teacher` (a fine-tuned classify, pair or ner model) into a smaller student
    and writes its model directory `out` (running again resumes): `tfbert distill` with
    the command's options as keyword arguments. `train`, `dev`, `unlabeled` are files.
    `metrics`: the student's dev metric, the teacher's (`teacher_` + its name) and their
    `agreement` (None without `dev`).

    Example:
    >>> result = tfbert.distill("runs/bbc", train="bbc/train.jsonl", dev="bbc/dev.jsonl",
    ...                         out="runs/bbc-small", student="L4-H128")  # doctest: +SKIP
    >>> result.metrics["agreement"]                                       # doctest: +SKIP
    """
    with _PythonErrors(distill):
        from tfbert.training.choices import DISTILL_DEFAULTS
        from tfbert.training.distill import DistillJob, distill as run
        from tfbert.training.distill_loss import DistillWeights
        from tfbert.training.tasks import Columns

        weights = DistillWeights(temperature=temperature, soft=soft_weight, hard=hard_weight,
                                 hidden=hidden_weight, attention=attention_weight)
        job = DistillJob(teacher=os.fspath(teacher), train=os.fspath(train),
                         out=os.fspath(out), dev=dev, unlabeled=unlabeled, student=student,
                         student_layers=student_layers, student_init=student_init,
                         embedding_init=embedding_init, max_length=max_length,
                         columns=Columns(text_column, label_column, pair_column),
                         weights=weights, strategy=strategy,
                         settings=_settings(settings, DISTILL_DEFAULTS))
        result, report = run(job, verbose=verbose)
    dev_report = report.get("dev")
    metrics = None if dev_report is None else {
        dev_report["metric"]: dev_report["student"],
        "teacher_" + dev_report["metric"]: dev_report["teacher"],
        "agreement": dev_report["agreement"]}
    return FinetuneResult(os.fspath(out), int(result.step), metrics)


def trim_vocab(model, corpus, out):
    """Writes to `out` the model `model` with only the vocabulary `corpus` (a text file, a
    `.jsonl`/`.csv`/`.tsv` file, or a list of them) needs: `tfbert trim-vocab`. Returns a
    `tfbert.convert.trim.TrimResult` (the sizes, and the original ids kept)."""
    with _PythonErrors(trim_vocab):
        from tfbert.convert.trim import trim_vocab as run

        return run(model, corpus, out)


def _settings(settings: dict, defaults: dict):
    """`TrainSettings` from keyword arguments over the command's defaults."""
    from tfbert.training.trainer import TrainSettings

    unknown = sorted(set(settings) - set(SETTING_NAMES))
    if unknown:
        raise ValueError(f"unknown settings {unknown}; expected the training options "
                         f"{sorted(SETTING_NAMES)}")
    return TrainSettings(**{**defaults, **settings})


def evaluate(model, data, output=None, batch_size=64, doc_stride=None, text_column="text",
             pair_column="pair", label_column=None, label_separator="|") -> dict:
    """Scores the model directory (or checkpoint name) `model` on the labelled file `data`
    (the task's format; a `pretrain-data` directory for pre-trained models); writes the
    report to `output` (`.json` and `.md`) when given. Returns the metrics."""
    with _PythonErrors(evaluate):
        from tfbert.training.evaluate import evaluate_model
        from tfbert.training.tasks import Columns

        return evaluate_model(model, data, output=output, batch_size=batch_size,
                              columns=Columns(text_column, label_column, pair_column),
                              doc_stride=doc_stride, label_separator=label_separator)


def records_file(task, data, out, name, written=None) -> str:
    """`data` as a file path: a path as it is; records written to `out/data/` in the
    task's file format (JSON lines, CoNLL or SQuAD JSON), named by their digest. A file
    this call creates is appended to `written`."""
    if isinstance(data, (str, os.PathLike)):
        return os.fspath(data)
    from tfbert.task import FINETUNE_TASKS
    from tfbert.training.checkpoints import RECORDS_DIR, RUN_FILE

    if task not in FINETUNE_TASKS:
        raise ValueError(f"task must be one of {FINETUNE_TASKS}. Received: task={task!r}")
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"out {os.fspath(out)}: is a file; expected a directory for the model")
    text = _serialise(task, data, name)

    out = os.fspath(out)
    if os.path.isdir(out) and set(os.listdir(out)) - {RECORDS_DIR} and not os.path.isfile(
            os.path.join(out, "checkpoints", RUN_FILE)):
        raise ValueError(f"out {out}: is not empty and holds no tfbert training run; choose "
                         "a new or empty directory")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    suffix = {"ner": "conll", "qa": "json"}.get(task, "jsonl")
    path = os.path.join(out, RECORDS_DIR, f"{name}-{digest}.{suffix}")
    if not os.path.isfile(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_file(path) as staging, open(staging, "w", encoding="utf-8") as f:
            f.write(text)
        if written is not None:
            written.append(path)
    return path


def _remove(paths, out, existed) -> None:
    """Removes the record files of `paths`, then `out/data` if left empty, and `out` too
    if this call made it."""
    from tfbert.training.checkpoints import RECORDS_DIR

    for path in paths:
        os.remove(path)
    folders = [os.path.join(os.fspath(out), RECORDS_DIR)] + ([] if existed else [out])
    for folder in folders:
        if paths and os.path.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)


def _serialise(task, data, name) -> str:
    try:
        rows = list(data)
    except TypeError:
        raise ValueError(f"{name} must be a file path or a list of records. Received: "
                         f"{type(data).__name__}") from None
    if not rows:
        raise ValueError(f"{name}: no records")
    if task == "qa":
        paragraphs = []
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or not {"question", "context"} <= set(row):
                raise ValueError(f"{name}[{i}]: a qa record is a dict with 'question', "
                                 "'context' and 'answers' ([{'text', 'answer_start'}])")
            paragraphs.append({"context": row["context"], "qas": [{
                "id": str(row.get("id", i)), "question": row["question"],
                "answers": list(row.get("answers", [])),
                **({"is_impossible": True} if not row.get("answers") else {})}]})
        return json.dumps({"version": "tfbert", "data": [{"title": name,
                                                           "paragraphs": paragraphs}]},
                          ensure_ascii=False)
    if task == "ner":
        lines = []
        for i, row in enumerate(rows):
            words, tags = (row.get("tokens"), row.get("tags")) if isinstance(row, dict) \
                else (row if isinstance(row, (tuple, list)) and len(row) == 2 else (None, None))
            if not isinstance(words, (list, tuple)) or not isinstance(tags, (list, tuple)) \
                    or len(words) != len(tags) or not words:
                raise ValueError(f"{name}[{i}]: an ner record is (words, tags) or "
                                 "{'tokens': [...], 'tags': [...]}, as many tags as words")
            for word, tag in zip(words, tags):
                if not str(word).strip() or any(c.isspace() for c in str(word)):
                    raise ValueError(f"{name}[{i}]: word {word!r} is empty or holds a space")
                lines.append(f"{word}\t{tag}")
            lines.append("")
        return "\n".join(lines) + "\n"
    keys = ("text", "pair", "label") if task == "pair" else ("text", "label")
    out = []
    for i, row in enumerate(rows):
        if isinstance(row, (tuple, list)):
            if len(row) != len(keys):
                raise ValueError(f"{name}[{i}]: a {task} record is {tuple(keys)}. Received: "
                                 f"{len(row)} values")
            row = dict(zip(keys, row))
        if not isinstance(row, dict):
            raise ValueError(f"{name}[{i}]: expected a dict or a tuple {tuple(keys)}")
        # (numpy scalars, e.g. labels from an array, as their Python values)
        out.append(json.dumps(row, ensure_ascii=False,
                              default=lambda v: v.item() if hasattr(v, "item") else str(v)))
    return "\n".join(out) + "\n"
