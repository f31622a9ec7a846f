"""The student a distillation starts from: a preset size, the teacher cut to K layers, or
any checkpoint; its config, task and initial weights, worked out on numpy arrays.

Every student reads the teacher's token ids (the soft targets are over the same inputs),
so it has the teacher's vocabulary; a checkpoint with another vocabulary is refused.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfbert.config import BertConfig
from tfbert.task import TaskSpec

EMBEDDINGS = ("embeddings/token_embedding/embeddings", "embeddings/position_embeddings",
              "embeddings/segment_embedding/embeddings")


@dataclasses.dataclass
class Student:
    """`tensors`: initial values by variable path; variables not in it keep the fresh
    model's initial values. `note`: one line saying where the student came from."""

    config: BertConfig
    spec: TaskSpec
    tensors: dict
    note: str


def teacher_blocks(student_layers: int, teacher_layers: int) -> list:
    """The teacher block each block of a student of `student_layers` is initialised from
    and trained to match: every n-th, ending with the teacher's top block (DistilBERT takes
    every other layer of BERT-base)."""
    return [round((j + 1) * teacher_layers / student_layers) - 1
            for j in range(student_layers)]


def cut_teacher(config: BertConfig, spec: TaskSpec, tensors: dict, layers: int) -> Student:
    """The teacher with `layers` of its blocks (`teacher_blocks`), its embeddings, pooler
    and head."""
    if not 1 <= layers <= config.num_layers:
        raise ValueError(f"--student-layers must be between 1 and the teacher's "
                         f"{config.num_layers} layers. Received: {layers}")
    sources = teacher_blocks(layers, config.num_layers)
    out = {}
    for name, value in tensors.items():
        if not name.startswith("block_"):
            out[name] = value
            continue
        block, rest = name.split("/", 1)
        index = int(block[len("block_"):])
        for j, source in enumerate(sources):
            if source == index:
                out[f"block_{j}/{rest}"] = value
    return Student(config.replace(num_layers=layers), spec, out,
                   f"the teacher's blocks {sources} ({layers} of {config.num_layers})")


def projected_embeddings(tensors: dict, width: int) -> dict:
    """The teacher's token, position and segment embeddings projected onto the `width`
    principal directions of its token embeddings: a narrower student starts knowing which
    pieces are alike. Only for `width` up to the teacher's."""
    tokens = tensors[EMBEDDINGS[0]].astype(np.float64)
    centred = tokens - tokens.mean(axis=0)
    # The covariance's eigenvectors, (hidden, hidden), by falling variance: always `hidden`
    # of them, however few the tokens.
    variances, vectors = np.linalg.eigh(centred.T @ centred)
    projection = vectors[:, np.argsort(variances)[::-1][:width]]   # (teacher hidden, width)
    return {name: (tensors[name].astype(np.float64) @ projection).astype(np.float32)
            for name in EMBEDDINGS}


def preset_student(name: str, config: BertConfig, spec: TaskSpec, tensors: dict,
                   embedding_init: bool = True) -> Student:
    """A fresh model of architecture `name` with the teacher's vocabulary and positions;
    with `embedding_init`, its embeddings projected from the teacher's
    (`projected_embeddings`) or copied when the widths agree."""
    student = BertConfig.from_name(name, vocab_size=config.vocab_size,
                                   max_position_embeddings=config.max_position_embeddings,
                                   type_vocab_size=config.type_vocab_size)
    start, how = {}, "fresh weights"
    if embedding_init and student.hidden_size <= config.hidden_size:
        if student.hidden_size == config.hidden_size:
            start = {n: tensors[n] for n in EMBEDDINGS}
            how = "the teacher's embeddings, fresh blocks"
        else:
            start = projected_embeddings(tensors, student.hidden_size)
            how = (f"the teacher's embeddings projected to {student.hidden_size} dimensions, "
                   "fresh blocks")
    return Student(student, spec, start, f"preset {name} ({student.num_layers} layers, "
                   f"hidden {student.hidden_size}; {how})")


def checkpoint_student(checkpoint, config: BertConfig, spec: TaskSpec,
                       teacher_vocab: list, vocab: list | None) -> Student:
    """A student from any checkpoint (`--student-init`): its encoder, and its head too when
    it is a model of the teacher's task and labels. `vocab`: its tokens, when it has a
    vocab.txt; they must be the teacher's."""
    source = checkpoint.source
    if checkpoint.config.vocab_size != config.vocab_size or (vocab and vocab != teacher_vocab):
        differ = next((i for i, (a, b) in enumerate(zip(vocab or (), teacher_vocab))
                       if a != b), None)
        where = f" (first difference at id {differ})" if differ is not None else ""
        raise ValueError(f"--student-init {source}: its vocabulary ({checkpoint.config.vocab_size}"
                         f" tokens) is not the teacher's ({config.vocab_size}){where}; the "
                         "student must read the teacher's token ids. Expected a checkpoint "
                         "with the teacher's vocab.txt")
    same_head = (checkpoint.spec.task == spec.task and checkpoint.spec.labels == spec.labels
                 and checkpoint.spec.pooling == spec.pooling)
    start = checkpoint if same_head else checkpoint.restricted_to("encoder")
    if start.fresh:
        raise ValueError(f"--student-init {source}: lacks {start.fresh[0]!r}; expected a "
                         "complete checkpoint")
    return Student(checkpoint.config, spec, dict(start.tensors),
                   f"{source} ({checkpoint.config.num_layers} layers, hidden "
                   f"{checkpoint.config.hidden_size}; "
                   + ("with its head)" if same_head else "its encoder, a fresh head)"))
