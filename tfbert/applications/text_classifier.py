"""`TextClassifier`: a Keras model that takes raw strings, from any checkpoint tfbert reads."""

from __future__ import annotations

import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from tfbert.applications import text_data
from tfbert.task import POOLINGS, TaskSpec, check_max_length, label_result, softmax


class TextClassifier(keras.Model):
    """A BERT text classifier whose `fit`, `evaluate` and `predict` take strings.

    The tokenizer runs in the `tf.data` input pipeline: texts are tokenized in chunks,
    grouped by length (each batch padded only to its longest text, rounded up to a multiple
    of 16), and the model sees the three id tensors. Labels are names (`"pos"`) or ids.
    Pair models (`pair=True`) take `(text, pair)` tuples or two lists. `predict` returns
    logits in input order (Keras' convention); `classify` returns the answer dicts
    `tfbert predict` writes. `save_pretrained(dir)` writes a tfbert model directory that
    `tfbert evaluate/predict/export`, `tfbert.predictor` and `from_pretrained` read.

    Example:
    >>> model = tfbert.TextClassifier.from_pretrained("all-MiniLM-L6-v2",
    ...                                              labels=["neg", "pos"])  # doctest: +SKIP
    >>> model.fit(["great film", "dull plot"], ["pos", "neg"], epochs=2)  # doctest: +SKIP
    >>> model.classify("a great film")["label"]                            # doctest: +SKIP
    'pos'
    """

    def __init__(self, classifier, tokenizer, spec: TaskSpec, config, vocab_file, **kwargs):
        super().__init__(**kwargs)
        self.classifier = classifier
        self.spec = spec
        self.config_ = config
        self.vocab_file = vocab_file
        # A tf.Module, not a layer: kept out of Keras' tracking (it holds no weights).
        object.__setattr__(self, "tokenizer", tokenizer)

    # --- building ----------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, name_or_path, labels=None, pair=False, max_length=None,
                        pooling=None, compile=True):
        """A classifier on the encoder of `name_or_path` (a checkpoint name such as
        `all-MiniLM-L6-v2`, or any directory tfbert reads), with a fresh head for `labels`;
        a directory that already holds a classify/pair model keeps its head and labels.

        `max_length` (default 128, or the model's) cuts inputs; `pooling` ("cls" or "mean")
        defaults to what the checkpoint declares (sentence-transformers: mean), else cls.
        The model comes compiled (AdamW 5e-5, sparse cross-entropy, accuracy); call
        `compile` again to change that.
        """
        from tfbert.convert.loader import declared_pooling, model_from_checkpoint, read_checkpoint
        from tfbert.model_dir import task_model
        from tfbert.registry import checkpoint_path
        from tfbert.tokenization import BertTokenizer

        path = checkpoint_path(name_or_path, "name_or_path")
        checkpoint = read_checkpoint(path)
        if not checkpoint.vocab_file:
            raise ValueError(f"name_or_path {path}: has no vocab.txt; expected a checkpoint "
                             "with its vocabulary")
        positions = checkpoint.config.max_position_embeddings
        if max_length is not None:
            check_max_length(max_length, "max_length", positions)
        if pooling is not None and pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}. Received: pooling={pooling!r}")
        trained = checkpoint.spec
        if trained.task in ("classify", "pair"):
            if labels is not None and tuple(labels) != trained.labels:
                raise ValueError(f"labels {list(labels)} differ from the labels "
                                 f"{list(trained.labels)} of the classifier in {path}; leave "
                                 "labels out, or start from its encoder")
            if trained.multi_label:
                raise ValueError(f"name_or_path {path}: a multi-label classifier; "
                                 "TextClassifier trains single-label models")
            for name, given, held in (("pair", pair, trained.task == "pair"),
                                      ("pooling", pooling, trained.pooling)):
                if given not in (None, False, held):
                    raise ValueError(f"{name}={given!r} differs from the classifier in "
                                     f"{path} ({name}={held!r}); leave it out")
            spec = TaskSpec(task=trained.task, labels=trained.labels,
                            max_length=max_length or trained.max_length,
                            lowercase=trained.lowercase, pooling=trained.pooling)
            model = model_from_checkpoint(checkpoint)
        else:
            labels = _check_labels(labels)
            if pooling is None:
                pooling = declared_pooling(path)
            spec = TaskSpec(task="pair" if pair else "classify", labels=tuple(labels),
                            max_length=max_length or min(128, positions),
                            lowercase=trained.lowercase, pooling=pooling)
            model = task_model(model_from_checkpoint(checkpoint.restricted_to("encoder")),
                               spec)
        classifier = cls(model, BertTokenizer.from_file(checkpoint.vocab_file,
                                                        lowercase=spec.lowercase),
                         spec, checkpoint.config, checkpoint.vocab_file)
        if compile:
            classifier.compile(
                optimizer=keras.optimizers.AdamW(5e-5, weight_decay=0.01),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")])
        return classifier

    @property
    def labels(self) -> list:
        return list(self.spec.labels)

    def call(self, inputs, training=False):
        return self.classifier(inputs, training=training)["logits"]

    # --- strings in ----------------------------------------------------------------------

    def _dataset(self, x, y, batch_size, shuffle, seed=0, keep_order=False):
        if y is None and not isinstance(x, tf.data.Dataset) and not keep_order:
            raise ValueError("y (the labels) is needed to train or evaluate on a list of "
                             "texts")
        return text_data.dataset(self.tokenizer, x, y, self.spec, batch_size, shuffle, seed,
                                 keep_order)

    def fit(self, x=None, y=None, batch_size=32, epochs=1, validation_data=None, seed=0,
            **kwargs):
        """`keras.Model.fit` on strings: `x` a list or array of texts (pairs: `(text, pair)`
        tuples), or a `tf.data.Dataset` of `(text, label)` (pairs: `((text, pair), label)`);
        `y` label names or ids. `validation_data` is `(x, y)` or a dataset. Batches are
        shuffled by `seed` and grouped by length."""
        data = self._dataset(x, y, batch_size, shuffle=True, seed=seed)
        if validation_data is not None:
            validation_data = self._dataset(*_split(validation_data), batch_size,
                                            shuffle=False)
        kwargs.setdefault("verbose", _verbose())
        with warnings.catch_warnings():
            # Mean pooling leaves the [CLS] pooler out of the loss: no gradient is expected.
            warnings.filterwarnings("ignore", message="Gradients do not exist for variables "
                                                      r"\['pooler/")
            return super().fit(data, epochs=epochs, validation_data=validation_data,
                               shuffle=False, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=32, **kwargs):
        """`keras.Model.evaluate` on strings and label names or ids (as `fit`)."""
        if kwargs.get("_use_cached_eval_dataset"):   # fit's validation: already batches
            return super().evaluate(x, y, **kwargs)
        kwargs.setdefault("verbose", _verbose())
        return super().evaluate(self._dataset(x, y, batch_size, shuffle=False), **kwargs)

    def predict(self, x, batch_size=32, **kwargs):
        """Logits `(len(x), len(labels))` for strings (pairs: `(text, pair)` tuples), in
        the order of `x`."""
        kwargs.setdefault("verbose", 0)
        if isinstance(x, tf.data.Dataset):
            return super().predict(self._dataset(x, None, batch_size, shuffle=False,
                                                 keep_order=True), **kwargs)
        texts, pairs = text_data.texts_of(x, self.spec.task == "pair", "x")
        if not texts:
            return np.zeros((0, len(self.labels)), "float32")
        # Longest first, then back to the caller's order.
        order = np.argsort([-len(t) - (len(p) if pairs else 0)
                            for t, p in zip(texts, pairs or texts)], kind="stable")
        texts = [texts[i] for i in order]
        pairs = [pairs[i] for i in order] if pairs else None
        logits = super().predict(self._dataset((texts, pairs) if pairs else texts, None,
                                               batch_size, shuffle=False, keep_order=True),
                                 **kwargs)
        out = np.empty_like(logits)
        out[order] = logits
        return out

    def classify(self, x, batch_size=32):
        """The answer dicts of `tfbert predict` (`text`, `label`, `score`, `probabilities`)
        for one input or a list."""
        # One text, or one (text, pair) tuple; a tuple of two lists is many pairs.
        single = isinstance(x, str) or (isinstance(x, tuple) and all(isinstance(v, str)
                                                                       for v in x))
        items = [x] if single else x
        texts, pairs = text_data.texts_of(items, self.spec.task == "pair", "x")
        if not texts:
            return []
        probabilities = softmax(self.predict(items, batch_size=batch_size))
        answers = [label_result({"text": t, **({"pair": pairs[i]} if pairs else {})}, p,
                                self.labels) for i, (t, p) in enumerate(zip(texts,
                                                                             probabilities))]
        return answers[0] if single else answers

    # --- files ---------------------------------------------------------------------------

    def save_pretrained(self, path) -> str:
        """Writes a tfbert model directory at `path` (replaced only once complete);
        returns `path`."""
        from tfbert.model_dir import save_model_dir

        save_model_dir(self.classifier, self.config_, self.spec, os.fspath(path),
                       vocab_file=self.vocab_file)
        return os.fspath(path)


def _check_labels(labels) -> list:
    if labels is None or isinstance(labels, str):
        raise ValueError("labels must be a list of label names (at least two) for a new "
                         f"classifier head. Received: labels={labels!r}")
    labels = [str(x) for x in labels]
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError(f"labels must hold at least two distinct names. Received: "
                         f"labels={labels!r}")
    return labels


def _split(data):
    if isinstance(data, tf.data.Dataset):
        return data, None
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return data[0], data[1]
    raise ValueError("validation_data must be (x, y) or a tf.data.Dataset of (x, y). "
                     f"Received: {type(data).__name__}")


def _verbose():
    from tfbert.progress import keras_verbose   # 2 (one line per epoch) unless a terminal

    return keras_verbose()


__all__ = ["TextClassifier"]
