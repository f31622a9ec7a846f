"""`tfbert features`: a fine-tuning file encoded once into TFRecord shards
(`tfbert.data.feature_shards`), for training data that does not fit in memory.

The file is read twice, streaming (classify/pair rows, NER sentences): a first pass checks
every row (errors name the file and line) and collects what the whole file decides (the
label set, NER's tag scheme, whether a QA question has no answer); the second reads it in
chunks of `examples_per_shard` examples, encodes each chunk with the encoders the
in-memory path uses (`tasks.encode_task_data`, so the rows are the same) and writes it
as a shard. Memory is bounded by a chunk, not by the file; QA's SQuAD JSON is the
exception: it is parsed whole (the text), and only its windows are made chunk by chunk.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os

from tfbert.atomic import sha256_file
from tfbert.data import feature_shards, readers
from tfbert.task import FINETUNE_TASKS, POOLED_TASKS, WINDOW_POOLINGS, check_doc_stride, \
    detect_tag_scheme
from tfbert.training import tasks
from tfbert.training.class_weights import label_counts

EXAMPLES_PER_SHARD = 10_000


def vocab_digest(tokenizer) -> str:
    """The SHA-256 of a vocabulary's tokens (one per line, in id order): the ids in the
    shards index it, whatever file (with or without a final newline) it came from."""
    return hashlib.sha256("\n".join(tokenizer.vocab).encode("utf-8")).hexdigest()


@dataclasses.dataclass
class FeatureJob:
    """What `tfbert features` encodes, with `finetune`'s defaults (`tasks.task_defaults`)."""

    task: str
    train: str
    out: str
    init: str | None = None
    vocab: str | None = None
    lowercase: bool = True
    max_length: int | None = None
    columns: tasks.Columns = dataclasses.field(default_factory=tasks.Columns)
    doc_stride: int | None = None
    window_pooling: str | None = None
    max_query_length: int = 64
    multi_label: bool = False
    label_separator: str = readers.LABEL_SEPARATOR
    examples_per_shard: int = EXAMPLES_PER_SHARD

    def __post_init__(self):
        if self.task not in FINETUNE_TASKS:
            raise ValueError(f"--task must be one of {FINETUNE_TASKS}. Received: {self.task!r}")
        if bool(self.init) == bool(self.vocab):
            raise ValueError("give either --init MODEL or --vocab VOCAB (the vocabulary the "
                             "model to fine-tune will have)")
        if self.init and not self.lowercase:
            raise ValueError("--cased goes with --vocab; --init uses the checkpoint's casing")
        self.max_length, self.doc_stride, self.window_pooling = tasks.task_defaults(
            self.task, self.max_length, self.doc_stride, self.window_pooling)
        check_doc_stride(self.doc_stride)
        if self.window_pooling and (self.task not in POOLED_TASKS
                                    or self.window_pooling not in WINDOW_POOLINGS):
            raise ValueError(f"--window-pooling must be one of {WINDOW_POOLINGS}, for classify "
                             f"and pair. Received: {self.window_pooling!r} for {self.task}")
        if self.multi_label and self.task not in POOLED_TASKS:
            raise ValueError(f"--multi-label applies to classify and pair, not to --task "
                             f"{self.task}")
        if self.columns.label is None:
            self.columns = dataclasses.replace(
                self.columns, label="labels" if self.multi_label else "label")
        if not os.path.isfile(self.train):
            raise ValueError(f"TRAIN_FILE {self.train}: no such file")
        if isinstance(self.examples_per_shard, bool) or not isinstance(
                self.examples_per_shard, int) or self.examples_per_shard < 1:
            raise ValueError(f"--examples-per-shard must be a positive integer. Received: "
                             f"{self.examples_per_shard!r}")

    def tokenizer(self):
        from tfbert.registry import checkpoint_path
        from tfbert.tokenization import BertTokenizer, load_tokenizer

        if self.vocab:
            return BertTokenizer.from_file(self.vocab, lowercase=self.lowercase)
        try:
            return load_tokenizer(checkpoint_path(self.init, "--init"))
        except ValueError as err:
            raise ValueError(f"--init: {err}") from None


def _examples(job: FeatureJob):
    """The examples of `job.train`, streaming (qa: parsed whole), and the reader's summary."""
    if job.task in POOLED_TASKS:
        summary = readers.ReadSummary(job.train)
        return readers.iter_classification(
            job.train, job.columns.text, job.columns.label,
            job.columns.pair if job.task == "pair" else None, multi_label=job.multi_label,
            label_separator=job.label_separator, summary=summary), summary
    if job.task == "ner":
        return readers.iter_conll(job.train), None
    return iter(readers.read_squad(job.train)), None


def _survey(job: FeatureJob) -> dict:
    """The first pass: every example checked, and what the whole file decides."""
    examples, summary = _examples(job)
    # The first example and one per unseen label (label set) give `labels_of` the label
    # set of the whole file in O(labels) memory.
    kept, seen, count = [], set(), 0
    scheme, first_iob1, no_answer = "IOB2", None, False
    for example in examples:
        count += 1
        if job.task in POOLED_TASKS:
            new = set(example.labels or ()) - seen if example.labels is not None \
                else {example.label} - seen
        elif job.task == "ner":
            new = set(example[1]) - seen
            if first_iob1 is None:
                found, where = detect_tag_scheme([example])
                if found == "IOB1":
                    scheme, first_iob1 = found, (count, where[1])
        else:
            new = set()
            no_answer = no_answer or example.is_impossible or not example.answers
        if new or count == 1:
            seen |= new
            kept.append(example)
    if not count:
        raise ValueError(f"{job.train}: no examples" + (f" ({summary})" if summary else ""))
    labels = tasks.labels_of(job.task, kept)
    if job.multi_label and not labels:
        raise ValueError(f"{job.train}: no example has a label in column "
                         f"{job.columns.label!r}; expected lists of labels")
    facts = {"examples_read": count, **({"summary": str(summary)} if summary else {})}
    if job.task == "ner":
        facts.update(tag_scheme=scheme, first_iob1=list(first_iob1) if first_iob1 else None)
    if job.task == "qa":
        facts["no_answer"] = no_answer
    return {"labels": labels, "facts": facts}


def _chunks(job: FeatureJob, tokenizer, labels):
    """`(examples, encode)` per chunk of the second pass (`feature_shards.write_shards`)."""
    examples, summary = _examples(job)
    sequence = feature_shards.sequence_targets(job.task)

    def encoder(chunk):
        def encode():
            data = tasks.encode_task_data(job.task, job.train, chunk, summary, tokenizer,
                                          labels, job.max_length, job.doc_stride,
                                          job.max_query_length, bool(job.window_pooling))
            counts = label_counts(data.targets["labels"], len(labels)) \
                if job.task in POOLED_TASKS else []
            return feature_shards.serialize_rows(data.inputs, data.targets, sequence), counts
        return encode

    while True:
        chunk = list(itertools.islice(examples, job.examples_per_shard))
        if not chunk:
            return
        yield len(chunk), encoder(chunk)


def write_features(job: FeatureJob, echo=print) -> dict:
    """Encodes `job.train` into shards in `job.out` (see the module docstring); returns the
    manifest. Running it again with the same settings skips the finished shards."""
    tokenizer = job.tokenizer()
    survey = _survey(job)
    settings = {"task": job.task, "labels": survey["labels"], "max_length": job.max_length,
                "doc_stride": job.doc_stride, "max_query_length": job.max_query_length,
                "windows": bool(job.window_pooling), "multi_label": job.multi_label,
                "lowercase": tokenizer.lowercase, "vocab_size": tokenizer.vocab_size,
                "vocab_sha256": vocab_digest(tokenizer), "pad_id": tokenizer.pad_id,
                "columns": dataclasses.asdict(job.columns),
                "label_separator": job.label_separator,
                "examples_per_shard": job.examples_per_shard,
                "train": {"path": os.path.abspath(job.train), "sha256": sha256_file(job.train)}}
    return feature_shards.write_shards(job.out, settings,
                                       _chunks(job, tokenizer, survey["labels"]),
                                       facts=survey["facts"], echo=echo)


def note(train_dir, manifest) -> str:
    """What `finetune` says about streamed training data."""
    settings = manifest["settings"]
    return (f"{train_dir}: {manifest['rows']} rows from {manifest['examples']} examples of "
            f"{os.path.basename(settings['train']['path'])} in {len(manifest['shards'])} "
            "shards, streamed")

