"""What a fine-tuned model's task is: the schema of `task.json` and its bounds.

`TaskSpec` is the one place that says which tasks exist, which head each has, how its inputs
are made (maximum length, windows of long inputs, casing) and what every field may hold.
Model directories, converters, exporters and predictors all read it from here.
"""

from __future__ import annotations

import dataclasses
import math
import os

from tfbert.textfile import read_json

TASKS = ("encoder", "pretrain", "classify", "pair", "ner", "qa")
FINETUNE_TASKS = ("classify", "pair", "ner", "qa")   # the tasks `finetune` trains a head for
TAG_SCHEMES = ("", "IOB1", "IOB2")
POOLINGS = ("cls", "mean")  # = tfbert.modeling.classifier.POOLINGS (modeling imports keras only)
MAX_LENGTH = 1 << 16
MIN_LENGTH = 8   # what a user may ask for: [CLS], [SEP] and room for a few pieces
# What a stored task.json may hold: [CLS] and [SEP] (a converted checkpoint may have few
# position embeddings; its length is capped at them).
MIN_STORED_LENGTH = 2
# The length a task's inputs are cut to when none is given: qa's question and context
# window as google-research/bert's run_squad; 128 for the rest.
DEFAULT_MAX_LENGTH = {"qa": 384}


WINDOWED_TASKS = ("qa", "ner")   # tasks that read a long input in `doc_stride` windows
POOLED_TASKS = ("classify", "pair")  # tasks whose head reads one pooled vector (`pooling`)
# classify/pair over windows: a document's logits are the mean or the max of its windows'.
WINDOW_POOLINGS = ("mean", "max")


def check_doc_stride(doc_stride) -> None:
    """A `--doc-stride` given on the command line or to the API: a one-line error if bad."""
    if isinstance(doc_stride, bool) or not isinstance(doc_stride, int) or \
            not 1 <= doc_stride <= MAX_LENGTH:
        raise ValueError(f"--doc-stride must be an integer from 1 to {MAX_LENGTH}. "
                         f"Received: {doc_stride!r}")


def default_max_length(task) -> int:
    """`--max-length` when not given: 384 for qa, 128 for the other tasks."""
    return DEFAULT_MAX_LENGTH.get(task, 128)


def check_max_length(max_length, flag="--max-length", max_position_embeddings=None) -> None:
    """A maximum length given on the command line or to the API (`flag` names it): an
    integer from `MIN_LENGTH` to `MAX_LENGTH`, and no more than the encoder's position
    embeddings when they are known. A one-line error if not."""
    if isinstance(max_length, bool) or not isinstance(max_length, int) or \
            not MIN_LENGTH <= max_length <= MAX_LENGTH:
        raise ValueError(f"{flag} must be an integer from {MIN_LENGTH} to {MAX_LENGTH}. "
                         f"Received: {max_length!r}")
    if max_position_embeddings is not None and max_length > max_position_embeddings:
        raise ValueError(f"{flag} {max_length} is longer than the encoder's "
                         f"{max_position_embeddings} position embeddings; give at most "
                         f"{max_position_embeddings}")


def default_stride(task, max_length) -> int:
    """How far apart windows of a long input start when not given: qa 128 pieces
    (google-research/bert's); ner half a window, so a word of a sentence longer than a
    window is read where it has about a quarter of a window of context on its narrower side
    (0.7 entity F1 on `pd98-ner` dev over windows that follow each other; README);
    classify/pair (windows on) half a window too, so every passage is read whole in one."""
    return max(1, (max_length - 2) // 2) if task in ("ner",) + POOLED_TASKS else 128


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """`task.json`: what head sits on the encoder and how its inputs are made."""

    task: str = "encoder"
    labels: tuple = ()
    multi_label: bool = False
    next_sentence: bool = True
    max_length: int = 128
    lowercase: bool = True
    # QA: how contexts were cut into windows, and whether "no answer" was trained
    # (SQuAD v2 data), so evaluation and prediction use the training's settings.
    doc_stride: int = 128
    max_query_length: int = 64
    no_answer: bool = False
    # NER: the training tags' scheme. "IOB2" (every entity opens with B-): predictions are
    # the best IOB2-valid sequence; "IOB1" or "" (models from before this field): argmax.
    tag_scheme: str = ""
    # classify/pair: what the head reads, the pooler over [CLS] ("cls") or the average of
    # every position ("mean", as sentence-transformers checkpoints were trained); encoder:
    # what it was trained with, the default of heads fine-tuned on it.
    pooling: str = "cls"
    # encoder: embeddings are scaled to unit length (a sentence-transformers checkpoint whose
    # modules.json ends in Normalize was trained for cosine similarity).
    normalize: bool = False
    # classify/pair: the temperature the logits are divided by before softmax (sigmoid for
    # multi-label), fitted on dev by `finetune --calibrate`; 1.0: the logits as trained.
    # Every runtime applies it, so a score means the same in Keras, TF Serving and TFLite.
    temperature: float = 1.0
    # multi-label: each label's decision threshold on its (calibrated) probability, chosen on
    # dev by `finetune`; empty: 0.5 for every label.
    thresholds: tuple = ()
    # classify/pair: "" (models from before this field, and the default) reads the first
    # `max_length` pieces of a text; "mean"/"max" cuts long texts into windows `doc_stride`
    # pieces apart (pair: the first text; the pair text kept whole) and pools their logits.
    window_pooling: str = ""
    # QA with no_answer: "no answer" when the null score minus the best span's score is
    # over this (google-research/bert's null_score_diff_threshold); `finetune` picks the
    # value that maximises dev F1 (SQuAD v2's find_best_thresh). 0.0: the null score wins
    # as soon as it beats the best span, as models from before this field answer.
    null_threshold: float = 0.0

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task.json: 'task' must be one of {TASKS}. Received: {self.task!r}")
        if self.task in ("classify", "pair", "ner") and not self.labels:
            raise ValueError(f"task.json: task {self.task!r} needs a non-empty 'labels' list")
        for name, low in (("max_length", MIN_STORED_LENGTH), ("doc_stride", 1),
                          ("max_query_length", 1)):
            value = getattr(self, name)
            # The bound keeps a hostile file from sizing arrays of billions of positions.
            if isinstance(value, bool) or not isinstance(value, int) or \
                    not low <= value <= MAX_LENGTH:
                raise ValueError(f"task.json: {name!r} must be an integer from {low} to "
                                 f"{MAX_LENGTH}. Received: {value!r}")
        for name in ("multi_label", "next_sentence", "lowercase", "no_answer", "normalize"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"task.json: {name!r} must be true or false. Received: "
                                 f"{getattr(self, name)!r}")
        if self.tag_scheme not in TAG_SCHEMES:
            raise ValueError(f"task.json: 'tag_scheme' must be one of {list(TAG_SCHEMES)}. "
                             f"Received: {self.tag_scheme!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"task.json: 'pooling' must be one of {list(POOLINGS)}. "
                             f"Received: {self.pooling!r}")
        if self.pooling != "cls" and self.task not in POOLED_TASKS + ("encoder",):
            raise ValueError(f"task.json: 'pooling' {self.pooling!r} is for classify, pair "
                             f"and encoder models, not task {self.task!r}")
        if self.normalize and self.task != "encoder":
            raise ValueError(f"task.json: 'normalize' is for encoder models (embeddings), not "
                             f"task {self.task!r}")
        if self.window_pooling not in ("",) + WINDOW_POOLINGS:
            raise ValueError(f"task.json: 'window_pooling' must be one of "
                             f"{list(WINDOW_POOLINGS)}. Received: {self.window_pooling!r}")
        if self.window_pooling and self.task not in POOLED_TASKS:
            raise ValueError(f"task.json: 'window_pooling' is for classify and pair models, "
                             f"not task {self.task!r}")
        if isinstance(self.null_threshold, bool) or \
                not isinstance(self.null_threshold, (int, float)) or \
                not math.isfinite(self.null_threshold):
            raise ValueError(f"task.json: 'null_threshold' must be a finite number. "
                             f"Received: {self.null_threshold!r}")
        if self.null_threshold and not (self.task == "qa" and self.no_answer):
            raise ValueError("task.json: 'null_threshold' is for qa models trained with "
                             "unanswerable questions ('no_answer': true)")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("task.json: 'labels' has duplicates; expected distinct labels")
        self._check_calibration()

    def _check_calibration(self):
        temperature = self.temperature
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or \
                not math.isfinite(temperature) or not 0.01 <= temperature <= 100:
            raise ValueError(f"task.json: 'temperature' must be a number from 0.01 to 100. "
                             f"Received: {temperature!r}")
        if temperature != 1.0 and self.task not in POOLED_TASKS:
            raise ValueError(f"task.json: 'temperature' is for classify and pair models, not "
                             f"task {self.task!r}")
        if not self.thresholds:
            return
        if not self.multi_label:
            raise ValueError("task.json: 'thresholds' are for multi-label models "
                             "('multi_label': true)")
        if len(self.thresholds) != len(self.labels) or not all(
                isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t < 1
                for t in self.thresholds):
            raise ValueError(f"task.json: 'thresholds' must be {len(self.labels)} numbers "
                             f"between 0 and 1, one per label. Received: "
                             f"{list(self.thresholds)[:10]!r}")

    @property
    def decision_thresholds(self) -> tuple:
        """Multi-label: each label's threshold (0.5 where none was chosen)."""
        return tuple(self.thresholds) or (0.5,) * len(self.labels)

    def with_stride(self, doc_stride: int | None) -> "TaskSpec":
        """This spec with long inputs cut into windows `doc_stride` pieces apart (None: as
        trained): how far apart windows start is a reading choice, not part of the weights."""
        if doc_stride is None:
            return self
        if self.task not in WINDOWED_TASKS and not self.window_pooling:
            raise ValueError(f"--doc-stride applies to qa and ner models and to classify/pair "
                             f"models fine-tuned with --doc-stride, not to this model's task "
                             f"{self.task!r}" + (" (fine-tuned without windows: it reads the "
                                                 "first max_length pieces)"
                                                 if self.task in POOLED_TASKS else ""))
        check_doc_stride(doc_stride)
        return dataclasses.replace(self, doc_stride=doc_stride)

    @property
    def windows(self) -> bool:
        """Whether long inputs are read in `doc_stride` windows (qa, ner; classify and
        pair when fine-tuned with them)."""
        return self.task in WINDOWED_TASKS or bool(self.window_pooling)

    def to_dict(self):
        data = dataclasses.asdict(self)
        data["labels"] = list(self.labels)
        # task.json stays readable by tfbert from before these fields while they are unset
        if not self.tag_scheme:
            del data["tag_scheme"]
        if self.pooling == "cls":
            del data["pooling"]
        if not self.normalize:
            del data["normalize"]
        if self.temperature == 1.0:
            del data["temperature"]
        if self.thresholds:
            data["thresholds"] = [float(t) for t in self.thresholds]
        else:
            del data["thresholds"]
        if not self.window_pooling:
            del data["window_pooling"]
        if not self.null_threshold:
            del data["null_threshold"]
        return data

    @classmethod
    def from_dict(cls, data, source="task.json"):
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source}: unknown keys {unknown}; expected only {sorted(known)}")
        labels = data.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ValueError(f"{source}: 'labels' must be a list of strings")
        thresholds = data.get("thresholds", [])
        if not isinstance(thresholds, list):
            raise ValueError(f"{source}: 'thresholds' must be a list of numbers")
        return cls(**{**data, "labels": tuple(labels), "thresholds": tuple(thresholds)})


def read_task_spec(path) -> TaskSpec:
    """The `TaskSpec` of a model directory's `task.json` (no weights read)."""
    task_path = os.path.join(path, "task.json")
    return TaskSpec.from_dict(read_json(task_path, "a tfbert task.json object"), source=task_path)
