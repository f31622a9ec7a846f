"""Fine-tuning data per task: files to model inputs and targets, and the epoch datasets.

classify / pair: CSV, TSV or JSONL with text (and pair) and label columns. ner: CoNLL
(a token and its BIO tag per line). qa: SQuAD v1.1/v2.0 JSON.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tfbert.data import features, readers
from tfbert.task import POOLED_TASKS, TaskSpec, check_max_length, default_max_length, \
    default_stride


@dataclasses.dataclass
class Columns:
    text: str = "text"
    label: str = "label"
    pair: str = "pair"


@dataclasses.dataclass
class TaskData:
    """Encoded examples. `examples` are what was read (for scoring): `TextExample`s,
    `(words, tags)` sentences or `QAExample`s. `extra` maps rows back to them: NER's
    `word_index` and `sentence_index`, QA's `example_index` and `char_spans`."""

    path: str
    inputs: dict
    targets: dict
    examples: list
    extra: dict
    note: str = ""

    @property
    def size(self) -> int:
        return len(self.inputs["token_ids"])


def task_defaults(task, max_length=None, doc_stride=None, window_pooling=None) -> tuple:
    """`(max_length, doc_stride, window_pooling)` with the task's defaults filled in, as
    `finetune` and `features` both record them: `max_length` 384 for qa, else 128;
    classify/pair read windows (`window_pooling` "mean") only when `doc_stride` is given."""
    if max_length is None:
        max_length = default_max_length(task)
    check_max_length(max_length)   # before the stride is worked out from it
    if window_pooling is None:
        window_pooling = "mean" if task in POOLED_TASKS and doc_stride is not None else ""
    if doc_stride is None:
        # classify/pair without windows record the TaskSpec default, as before windows.
        doc_stride = default_stride(task, max_length) \
            if task not in POOLED_TASKS or window_pooling else TaskSpec.doc_stride
    return max_length, doc_stride, window_pooling


def _sorted_labels(values):
    values = sorted(set(values))
    if all(v.lstrip("-").isdigit() for v in values):
        values.sort(key=int)
    return values


def read_task_examples(task, path, columns: Columns | None = None, multi_label=False,
                       label_separator=readers.LABEL_SEPARATOR):
    """What `path` holds for `task`, parsed once: `(examples, summary)` (classify/pair:
    `TextExample`s and the reader's row summary, with `multi_label` each with its set of
    `labels`; ner: `(words, tags)` sentences; qa: `QAExample`s; the summary None for both)."""
    columns = columns or Columns()
    if task in ("classify", "pair"):
        return readers.read_classification(path, columns.text, columns.label,
                                           columns.pair if task == "pair" else None,
                                           multi_label=multi_label,
                                           label_separator=label_separator)
    if task == "ner":
        return readers.read_conll(path), None
    if task == "qa":
        return readers.read_squad(path), None
    raise ValueError(f"no fine-tuning data for task {task!r}")


def labels_of(task, examples) -> list:
    """The label set of training examples: classes sorted (numerically when all integers);
    for NER `O`, then `B-`/`I-` of every type, sorted by type; none for qa."""
    if task in ("classify", "pair"):
        if examples and examples[0].labels is not None:   # multi-label: every label seen
            return _sorted_labels(label for e in examples for label in e.labels)
        return _sorted_labels(e.label for e in examples)
    if task == "ner":
        # B- and I- for every type seen, so dev/test may use a tag train happens to lack.
        types = {t[2:] for _, tags in examples for t in tags if t != "O"}
        return ["O"] + [f"{p}-{t}" for t in sorted(types) for p in ("B", "I")]
    return []


def encode_task_data(task, path, examples, summary, tokenizer, labels, max_length,
                     doc_stride=None, max_query_length=64, windows=False) -> TaskData:
    """Encodes `examples` read from `path` (`read_task_examples`). A label (or tag) the model
    does not know is an error naming its line (or sentence). `doc_stride`: how far apart
    windows of a long input start (None: `default_stride`, as `finetune` would record).
    `windows`: classify/pair texts are cut into windows too (each a row with its text's
    label; `extra["document_index"]` maps them back), not truncated."""
    doc_stride = doc_stride or default_stride(task, max_length)
    if task in ("classify", "pair") and windows:
        inputs, ids, document = features.encode_classification_windows(
            tokenizer, examples, labels, max_length, doc_stride, source=path)
        note = f"{summary}; {len(examples)} texts in {len(document)} windows"
        return TaskData(path, inputs, {"labels": ids}, examples, {"document_index": document},
                        note)
    if task in ("classify", "pair"):
        inputs, ids = features.encode_classification(tokenizer, examples, labels, max_length,
                                                     source=path)
        return TaskData(path, inputs, {"labels": ids}, examples, {}, str(summary))
    if task == "ner":
        inputs, label_ids, word_index, sentence_index = features.encode_ner(
            tokenizer, examples, labels, max_length, source=path, stride=doc_stride)
        note = f"{path}: {len(examples)} sentences in {len(sentence_index)} windows"
        return TaskData(path, inputs, {"labels": label_ids}, examples,
                        {"word_index": word_index, "sentence_index": sentence_index}, note)
    inputs, targets, windows = features.encode_qa(
        tokenizer, examples, max_length, doc_stride, max_query_length)
    note = f"{path}: {len(examples)} questions in {len(inputs['token_ids'])} windows"
    return TaskData(path, inputs, targets, examples, windows, note)


def load_task_data(task, path, tokenizer, labels, max_length, columns: Columns | None = None,
                   doc_stride=None, max_query_length=64, multi_label=False,
                   label_separator=readers.LABEL_SEPARATOR, windows=False) -> TaskData:
    """Reads and encodes `path` for `task` (`read_task_examples`, then `encode_task_data`)."""
    examples, summary = read_task_examples(task, path, columns, multi_label, label_separator)
    return encode_task_data(task, path, examples, summary, tokenizer, labels, max_length,
                            doc_stride, max_query_length, windows)


def read_unlabeled(task, path, columns: Columns):
    """Raw inputs the teacher labels: classify/pair `TextExample`s (a `.txt` file holds one
    text per line; `.jsonl`/`.csv`/`.tsv` the text and pair columns, any label ignored);
    ner `(words, None)` sentences, one per line, words split on spaces and every CJK
    character a word of its own."""
    from tfbert import textfile

    if task == "ner":
        from tfbert.tokenization.cjk import is_cjk

        sentences = []
        for line in textfile.lines(path):
            words = []
            for word in line.split():
                if all(is_cjk(c) for c in word):
                    words += list(word)
                else:
                    words.append(word)
            if words:
                sentences.append((words, None))
        if not sentences:
            raise ValueError(f"--unlabeled {path}: no sentences; expected one per line")
        return sentences
    if path.lower().endswith(".txt"):
        if task == "pair":
            raise ValueError(f"--unlabeled {path}: a pair teacher needs pairs; expected "
                             ".jsonl, .csv or .tsv with the text and pair columns")
        examples = [readers.TextExample(line.strip(), None, None, number)
                    for number, line in enumerate(textfile.lines(path), 1) if line.strip()]
        if not examples:
            raise ValueError(f"--unlabeled {path}: no texts; expected one per line")
        return examples
    try:
        examples, _ = readers.read_classification(
            path, columns.text, columns.label, columns.pair if task == "pair" else None,
            require_labels=False)
    except ValueError as err:
        raise ValueError(f"--unlabeled {err}") from None
    return [dataclasses.replace(e, label=None) for e in examples]


def encode_unlabeled(task, path, columns, tokenizer, labels, max_length, stride):
    """`(inputs, targets)` of `distill --unlabeled` texts (`read_unlabeled`): the targets
    hold no gold labels (-1); ner's also mark each word's first piece (`scored`)."""
    examples = read_unlabeled(task, path, columns)
    if task == "ner":
        inputs, _, word_index, _ = features.encode_ner(tokenizer, examples, labels, max_length,
                                                       source=path, stride=stride)
        scored = (word_index >= 0).astype("int32")
        return inputs, {"labels": np.full(word_index.shape, -1, "int32"), "scored": scored}
    pairs = [e.pair for e in examples] if task == "pair" else None
    inputs = tokenizer([e.text for e in examples], pairs, max_length=max_length,
                       pad_to_max_length=True)
    return inputs, {"labels": np.full(len(examples), -1, "int32")}


def epoch_datasets(data: TaskData, seed: int, bucket: int = 16, group: int = 50,
                   sequence_targets=None):
    """`make_dataset(epoch, batch)` for `Trainer.fit`.

    The examples are shuffled by `(seed, epoch)`; within each run of `group` batches they
    are sorted by length and cut into batches, and the batches are shuffled again, so a
    batch holds texts of similar length. Each batch is cut to its longest row, rounded up
    to a multiple of `bucket` (a handful of shapes, so few retraces); padding that no row
    needs is never computed. The short last batch is dropped.
    """
    lengths = data.inputs["padding_mask"].sum(axis=1)
    full = data.inputs["token_ids"].shape[1]
    arrays = (data.inputs, data.targets)
    # Which arrays have a sequence axis to cut: inputs, and per-token labels (NER).
    sequence = tf.nest.map_structure(lambda a: a.ndim >= 2 and a.shape[1] == full, arrays)
    if sequence_targets is not None:
        sequence = (sequence[0], {k: k in sequence_targets for k in data.targets})

    def make_dataset(epoch, batch):
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(data.size)[:data.size // batch * batch]
        batches = []
        for start in range(0, len(order), batch * group):
            part = order[start:start + batch * group]
            part = part[np.argsort(lengths[part], kind="stable")]
            batches += [part[i:i + batch] for i in range(0, len(part), batch)]
        batches = np.stack(batches)[rng.permutation(len(batches))].astype("int64")
        constants = tf.nest.map_structure(tf.constant, arrays)

        def gather(rows):
            picked = tf.nest.map_structure(lambda a: tf.gather(a, rows), constants)
            longest = tf.reduce_max(tf.reduce_sum(picked[0]["padding_mask"], axis=1))
            width = tf.minimum((longest + bucket - 1) // bucket * bucket, full)
            return tf.nest.map_structure(lambda a, cut: a[:, :width] if cut else a,
                                         picked, sequence)

        return tf.data.Dataset.from_tensor_slices(batches).map(gather)

    return make_dataset
