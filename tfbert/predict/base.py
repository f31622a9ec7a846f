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
    batch_size: int = 32

    @property
    def task(self) -> str:
        return self.spec.task

    @property
    def labels(self) -> list:
        return list(self.spec.labels)

    def predict(self, records) -> list:
        """One answer dict per record (see the class docstring), `batch_size` at a time."""
        out = []
        for start in range(0, len(records), self.batch_size):
            out += self._batch(records[start:start + self.batch_size])
        return out

    @abc.abstractmethod
    def _batch(self, records) -> list:
        """The answers to one batch of records."""
