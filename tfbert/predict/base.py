"""The predictor interface every runtime implements."""

from __future__ import annotations

import abc

from tfbert.task import TaskSpec


class Predictor(abc.ABC):
    """Answers raw inputs with one model: a Keras model directory, a SavedModel or a `.tflite`
    file, in the same format whichever it is.

    `predict(records)` takes dicts (`text`; `pair` for pair models; `question` and `context`
    for qa) and returns one dict per record, the record's keys plus the answer:
    classify/pair `label` (multi-label: `labels`) and `probabilities`; ner `entities` and
    `tags`; qa `answer`, `start`, `end`, `score`; pretrain `masks`; encoder `embedding`.
    `spec` is the model's task (`tfbert.task.TaskSpec`); `task` and `labels` come from it.
    """

    spec: TaskSpec

    @property
    def task(self) -> str:
        return self.spec.task

    @property
    def labels(self) -> list:
        return list(self.spec.labels)

    @abc.abstractmethod
    def predict(self, records) -> list:
        """One answer dict per record (see the class docstring)."""
