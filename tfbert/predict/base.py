"""The predictor interface every runtime implements."""

from __future__ import annotations

import abc

from tfbert.task import TaskSpec


class Predictor(abc.ABC):
    """Answers raw inputs with one model: a Keras model directory, a SavedModel or a `.tflite`
    file, in the same format whichever it is.

    Call it on one input or a list of inputs: a string (`"great film"`), a `(text, pair)`
    tuple for pair models, a `{"question": …, "context": …}` dict (or a `(question, context)`
    tuple) for qa, or the record dicts `tfbert predict` reads. One input gives one answer
    dict, a list gives a list:

    >>> classify = tfbert.predictor("runs/bbc")                       # doctest: +SKIP
    >>> classify("Shares rose 5% after the results.")                 # doctest: +SKIP
    {'text': 'Shares rose 5% after the results.', 'label': 'business', 'score': 0.98, ...}

    Answers: classify/pair `label`, `score` and `probabilities` (multi-label: `labels`);
    ner `entities` (text, type, character span, score) and a tag per word; qa `answer`,
    `start`, `end`, `score` (and, asked with `n_best`, the `n_best` best spans, each with
    `answer`, `start`, `end`, `score` and `probability`); pretrain (fill-mask) `masks`; encoder `embedding`. `predict`
    takes a list of record dicts (`text`; `pair`; `question` and `context`) and returns the
    record's keys plus the answer. Inputs are run `batch_size` at a time, grouped by length
    so that short inputs are not padded to long ones; answers come back in input order.
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

    def __call__(self, inputs):
        """The answer to one input, or the list of answers to a list of inputs."""
        if isinstance(inputs, (str, dict, tuple)):
            return self.predict([self._record(inputs, "inputs")])[0]
        try:
            items = list(inputs)
        except TypeError:
            raise TypeError(f"inputs must be a string, a tuple, a dict or a list of them. "
                            f"Received: inputs of type {type(inputs).__name__}") from None
        return self._predict([self._record(x, f"inputs[{i}]") for i, x in enumerate(items)])

    def _record(self, item, name) -> dict:
        """One input as the record dict `predict` takes; a one-line error names the input."""
        if hasattr(item, "item") and not isinstance(item, (str, bytes)):   # numpy scalars
            item = item.item()
        if isinstance(item, bytes):
            item = item.decode("utf-8")
        needs = {"qa": ("question", "context"), "pair": ("text", "pair")}.get(self.task,
                                                                                ("text",))
        if isinstance(item, dict):
            missing = [k for k in needs if not isinstance(item.get(k), str)]
            if missing:
                raise ValueError(f"{name}: {_article(self.task)} {self.task} model needs the keys {list(needs)} "
                                 f"with string values; missing or not a string: {missing}")
            return item
        if isinstance(item, tuple):
            if len(item) != len(needs) or not all(isinstance(x, str) for x in item):
                raise ValueError(f"{name}: {_article(self.task)} {self.task} model takes "
                                 f"{'a string' if len(needs) == 1 else '(' + ', '.join(needs) + ')'}"
                                 f". Received: a tuple of {len(item)}")
            return dict(zip(needs, item))
        if isinstance(item, str):
            if len(needs) > 1:
                raise ValueError(f"{name}: {_article(self.task)} {self.task} model takes ({', '.join(needs)}) "
                                 f"pairs of strings. Received: one string {item[:40]!r}")
            return {"text": item}
        raise TypeError(f"{name}: expected a string, a tuple or a dict. Received: "
                        f"{type(item).__name__}")

    def predict(self, records) -> list:
        """One answer dict per record (see the class docstring), `batch_size` at a time,
        grouped by length; the answers are in the order of `records`. A record may also be
        given as `__call__` takes it (a string, a tuple)."""
        return self._predict([self._record(r, f"records[{i}]") for i, r in enumerate(records)])

    def _predict(self, records) -> list:
        # Longest first, so the first batch shows the memory a run needs.
        order = sorted(range(len(records)), key=lambda i: -_length(records[i]))
        out = [None] * len(records)
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            for i, answer in zip(rows, self._batch([records[i] for i in rows])):
                out[i] = answer
        return out

    @abc.abstractmethod
    def _batch(self, records) -> list:
        """The answers to one batch of records."""


def check_n_best(n_best, spec, listed=None, path=None):
    """`n_best` (answers listed per qa input, None: none) once checked against the model;
    `listed`: how many an export at `path` lists (fixed by `tfbert export --n-best`)."""
    if n_best is None:
        return None
    if isinstance(n_best, bool) or not isinstance(n_best, int) or n_best < 1:
        raise ValueError(f"--n-best must be a positive integer. Received: {n_best!r}")
    if spec.task != "qa":
        raise ValueError(f"--n-best applies to qa models, not to this model's task "
                         f"{spec.task!r}")
    if listed is not None and n_best > listed:
        raise ValueError(f"--n-best {n_best}: {path} lists {listed} answers per question; "
                         f"export it again with tfbert export --n-best {n_best}")
    return n_best


def _length(record) -> int:
    """How long a record's text is, in characters (close enough to pieces for grouping)."""
    return sum(len(v) for k, v in record.items()
               if k in ("text", "pair", "question", "context") and isinstance(v, str))


def _article(word) -> str:
    return "an" if word[:1] in "aeiou" else "a"
