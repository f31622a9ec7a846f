"""`tfbert distill`: a smaller student trained to imitate a fine-tuned teacher.

The teacher (a classify, pair or ner model) labels the training texts, and any raw texts
given with `--unlabeled`, once: its logits are cached in `OUT/checkpoints/` and read back
when the run resumes. The student learns from those softened outputs, the gold labels,
and, with `--hidden-weight`/`--attention-weight`, from the teacher's layers (the teacher
then runs beside the student at every step). The loop, strategies, checkpoints, resuming,
progress and reports are `finetune`'s; the output is an ordinary model directory, with
`distill_report.json`/`.md` comparing student and teacher on the dev data.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from tfbert.atomic import sha256_file
from tfbert.model_dir import write_model_files
from tfbert.registry import checkpoint_path
from tfbert.task import check_max_length
from tfbert.training import checkpoints, scoring, tasks
from tfbert.training.distill_loss import DistillationLoss, DistillWeights
from tfbert.training.strategy import is_chief, make_strategy, per_replica_batch
from tfbert.training.trainer import Trainer, TrainSettings, prepare

DISTILL_TASKS = ("classify", "pair", "ner")
TEACHER_OUTPUTS = "teacher_outputs.npz"
REPORT = "distill_report"


@dataclasses.dataclass
class DistillJob:
    """Every setting of a distillation run, checked when the job is built. The student is
    one of `student` (an architecture name), `student_layers` (the teacher cut to that many
    layers) or `student_init` (any checkpoint with the teacher's vocabulary); none given:
    the teacher cut to half its layers."""

    teacher: str
    train: str
    out: str
    dev: str | None = None
    unlabeled: str | None = None
    student: str | None = None
    student_layers: int | None = None
    student_init: str | None = None
    embedding_init: bool = True
    max_length: int | None = None     # None: the teacher's
    columns: tasks.Columns = dataclasses.field(default_factory=tasks.Columns)
    weights: DistillWeights = dataclasses.field(default_factory=DistillWeights)
    strategy: str = "auto"
    settings: TrainSettings = dataclasses.field(default_factory=TrainSettings)

    def __post_init__(self):
        self.teacher = checkpoint_path(self.teacher, "--teacher")
        if self.student_init:
            self.student_init = checkpoint_path(self.student_init, "--student-init")
        given = [f for f, v in (("--student", self.student),
                                ("--student-layers", self.student_layers),
                                ("--student-init", self.student_init)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"give one of --student, --student-layers and --student-init. "
                             f"Received: {' and '.join(given)}")
        if self.student is not None:
            from tfbert.registry import PRESETS, architecture

            if architecture(self.student) is None:
                raise ValueError(f"--student {self.student}: not an architecture; expected "
                                 f"one of {', '.join(PRESETS)} or L<layers>-H<hidden>")
        for flag, path in (("--train", self.train), ("--dev", self.dev),
                           ("--unlabeled", self.unlabeled)):
            if path and not os.path.isfile(path):
                raise ValueError(f"{flag} {path}: no such file")
        if self.max_length is not None:
            check_max_length(self.max_length)
        if not self.dev and (self.settings.early_stopping or self.settings.eval_every):
            raise ValueError("--early-stopping and --eval-every need --dev")

    def identity(self) -> dict:
        """What defines the run: a resumed run must match it exactly."""
        return {"command": "distill", "teacher": checkpoints.fingerprint(self.teacher),
                "train": sha256_file(self.train),
                "dev": sha256_file(self.dev) if self.dev else None,
                "unlabeled": sha256_file(self.unlabeled) if self.unlabeled else None,
                "student": self.student, "student_layers": self.student_layers,
                "student_init": checkpoints.fingerprint(self.student_init)
                if self.student_init else None,
                "embedding_init": self.embedding_init, "max_length": self.max_length,
                "columns": dataclasses.asdict(self.columns),
                "weights": dataclasses.asdict(self.weights),
                "settings": self.settings.identity()}


def read_teacher(path):
    """The teacher's checkpoint and vocabulary; a teacher distill cannot learn from is a
    one-line error."""
    from tfbert.convert.loader import read_checkpoint
    from tfbert.tokenization import read_vocab

    try:
        teacher = read_checkpoint(path, "--teacher")
    except ValueError as err:
        raise ValueError(f"--teacher: {err}") from None
    task = teacher.spec.task
    if task not in DISTILL_TASKS:
        raise ValueError(f"--teacher {path}: is a {task!r} model; distill takes a fine-tuned "
                         f"{', '.join(DISTILL_TASKS)} model (fine-tune one with tfbert finetune)")
    if teacher.spec.multi_label:
        raise ValueError(f"--teacher {path}: is a multi-label classifier; distill takes "
                         "single-label classify, pair and ner models")
    if teacher.spec.window_pooling:
        raise ValueError(f"--teacher {path}: reads long texts in windows (fine-tuned with "
                         "--doc-stride); distill takes classify and pair teachers that "
                         "read the first max_length pieces")
    if not teacher.vocab_file:
        raise ValueError(f"--teacher {path}: has no vocab.txt; expected a model directory "
                         "with its vocabulary")
    return teacher, read_vocab(teacher.vocab_file)


def _student(job: DistillJob, teacher, vocab):
    from tfbert.training import students

    spec = teacher.spec
    if job.max_length is not None:
        spec = dataclasses.replace(spec, max_length=job.max_length)
    if job.student is not None:
        return students.preset_student(job.student, teacher.config, spec, teacher.tensors,
                                       job.embedding_init)
    if job.student_init is not None:
        from tfbert.convert.loader import read_checkpoint
        from tfbert.tokenization import read_vocab

        try:
            checkpoint = read_checkpoint(job.student_init, "--student-init")
        except ValueError as err:
            raise ValueError(f"--student-init: {err}") from None
        own = read_vocab(checkpoint.vocab_file) if checkpoint.vocab_file else None
        return students.checkpoint_student(checkpoint, teacher.config, spec, vocab, own)
    layers = job.student_layers if job.student_layers is not None \
        else max(1, teacher.config.num_layers // 2)
    return students.cut_teacher(teacher.config, spec, teacher.tensors, layers)


def student_rows(task, train, extra=None):
    """`(inputs, targets)` the student trains on: the training rows with their gold labels,
    then `extra` (`tasks.encode_unlabeled`'s rows, no labels). ner's `scored` marks where the
    teacher's tags are compared: each word's first piece (where a training row is labelled)."""
    targets = {"labels": train.targets["labels"]}
    if task == "ner":
        targets["scored"] = (train.targets["labels"] >= 0).astype("int32")
    inputs = train.inputs
    if extra is not None:
        inputs = {k: np.concatenate([v, extra[0][k]]) for k, v in inputs.items()}
        targets = {k: np.concatenate([v, extra[1][k]]) for k, v in targets.items()}
    return inputs, targets


def _teacher_logits(teacher, inputs: dict, dev_inputs, path, verbose):
    """`(train, dev, fresh)`: the teacher's logits over the training rows (and dev rows),
    read from `path` when a kept file has these rows' shapes, else computed (`fresh`; the
    caller keeps them once the run is under way, `_keep`)."""
    from tfbert.convert.loader import model_from_checkpoint

    size = len(inputs["token_ids"])
    dev_size = len(dev_inputs["token_ids"]) if dev_inputs else 0
    if os.path.isfile(path):
        with np.load(path) as kept:
            train, dev = kept["train"], kept["dev"]
        if len(train) == size and len(dev) == dev_size:
            return train, dev, False
    if verbose:
        print(f"the teacher labels {size} training rows"
              + (f" and {dev_size} dev rows" if dev_size else ""), flush=True)
    model = model_from_checkpoint(teacher)
    train = scoring.model_outputs(model, inputs, progress=verbose)["logits"]
    dev = scoring.model_outputs(model, dev_inputs)["logits"] if dev_size \
        else np.zeros((0,) + train.shape[1:], "float32")
    return train, dev, True


def _keep(path, train, dev):
    from tfbert.atomic import atomic_file

    with atomic_file(path) as staging:
        with open(staging, "wb") as f:
            np.savez(f, train=train, dev=dev)


def _agreement(task, student_logits, teacher_logits, data) -> float:
    """How often the student's top class (or tag) is the teacher's: per example, or per
    scored word piece for ner."""
    same = student_logits.argmax(-1) == teacher_logits.argmax(-1)
    if task == "ner":
        same = same[data.targets["labels"] >= 0]
    return float(same.mean()) if same.size else 0.0


def distill(job: DistillJob, verbose=True):
    """Runs (or resumes) `job`; returns `(TrainResult, report dict)`: the student's and
    teacher's dev metrics and agreement (None without `--dev`) and their sizes."""
    from tfbert.backends import require_tensorflow_backend

    require_tensorflow_backend("tfbert distill")
    from tfbert.convert.loader import model_from_checkpoint
    from tfbert.model_dir import assign_weights, build_model, encoder_parameters, model_weights
    from tfbert.modeling import Distiller, uniform_layer_map
    from tfbert.tokenization import BertTokenizer

    identity = job.identity()
    resuming = checkpoints.check_output_dir(job.out, identity)
    teacher, vocab = read_teacher(job.teacher)
    student = _student(job, teacher, vocab)
    task, spec, labels = teacher.spec.task, student.spec, list(teacher.spec.labels)
    check_max_length(spec.max_length,
                     max_position_embeddings=min(student.config.max_position_embeddings,
                                                 teacher.config.max_position_embeddings))
    strategy = make_strategy(job.strategy)
    per_replica_batch(strategy, job.settings.batch_size)
    tokenizer = BertTokenizer(vocab, lowercase=spec.lowercase)
    train = tasks.load_task_data(task, job.train, tokenizer, labels, spec.max_length,
                                 job.columns, spec.doc_stride)
    dev = tasks.load_task_data(task, job.dev, tokenizer, labels, spec.max_length, job.columns,
                               spec.doc_stride) if job.dev else None
    extra, note = None, train.note
    if job.unlabeled:
        extra = tasks.encode_unlabeled(task, job.unlabeled, job.columns, tokenizer, labels,
                                       spec.max_length, spec.doc_stride)
        note += f"; {job.unlabeled}: {len(extra[1]['labels'])} unlabeled rows"
    inputs, targets = student_rows(task, train, extra)
    cache = os.path.join(job.out, "checkpoints", TEACHER_OUTPUTS)
    targets["teacher_logits"], teacher_dev, fresh = _teacher_logits(
        teacher, inputs, dev.inputs if dev else None, cache, verbose and is_chief(strategy))
    targets["padding_mask"] = inputs["padding_mask"]
    rows = tasks.TaskData(job.train, inputs, targets, train.examples, {}, note)
    scheme = spec.tag_scheme

    prepare(job.settings)
    layer_map = uniform_layer_map(student.config.num_layers, teacher.config.num_layers) \
        if job.weights.layers else ()
    with strategy.scope():
        model = build_model(student.config, spec)
        if student.tensors:   # the rest keeps its fresh values
            start = {**model_weights(model), **student.tensors}
            assign_weights(model, start, source=student.note)
        teacher_encoder = model_from_checkpoint(teacher.restricted_to("encoder")) \
            if layer_map else None
        distiller = Distiller(model, teacher_encoder, layer_map)
    loss = DistillationLoss(job.weights, per_token=task == "ner", pairs=len(layer_map))
    evaluate = scoring.dev_scorer(task, labels, dev, tag_scheme=scheme) if dev else None
    trainer = Trainer(strategy, distiller, loss, job.settings, job.out, rows.size,
                      evaluate=evaluate, metric=scoring.MAIN_METRIC[task], verbose=verbose,
                      kept=model)
    # Only now, with every setting checked, does --out become this run's.
    if is_chief(strategy):
        checkpoints.write_run(job.out, identity)
        if fresh:
            _keep(cache, targets["teacher_logits"], teacher_dev)
        if verbose:
            print(f"{'resuming' if resuming else 'starting'} distillation of {job.teacher} "
                  f"({teacher.config.num_layers} layers, hidden {teacher.config.hidden_size}) "
                  f"into {student.note}; {note}" + (f"; dev: {dev.note}" if dev else ""),
                  flush=True)
    sequence = {"labels", "scored", "teacher_logits", "padding_mask"} if task == "ner" \
        else {"padding_mask"}
    result = trainer.fit(tasks.epoch_datasets(rows, job.settings.seed,
                                              sequence_targets=sequence))
    model = trainer.final_weights()
    report = {"teacher": {"path": os.path.abspath(job.teacher),
                          "layers": teacher.config.num_layers,
                          "hidden_size": teacher.config.hidden_size,
                          "parameters": encoder_parameters(teacher.config)},
              "student": {"from": student.note, "layers": student.config.num_layers,
                          "hidden_size": student.config.hidden_size,
                          "parameters": encoder_parameters(student.config)},
              "weights": dataclasses.asdict(job.weights), "step": result.step}
    if is_chief(strategy):
        write_model_files(model, student.config, spec, job.out, teacher.vocab_file)
        if dev:
            from tfbert.training.evaluate import write_evaluation

            outputs = scoring.model_outputs(model, dev.inputs)
            metrics = scoring.score(task, labels, outputs, dev, tag_scheme=scheme)
            teacher_metrics = scoring.score(task, labels, {"logits": teacher_dev}, dev,
                                            tag_scheme=scheme)
            metric = scoring.MAIN_METRIC[task]
            report["dev"] = {"data": dev.path, "metric": metric,
                             "student": metrics[metric], "teacher": teacher_metrics[metric],
                             "agreement": _agreement(task, outputs["logits"], teacher_dev, dev)}
            write_evaluation(metrics, task, labels, os.path.join(job.out, "dev_report.json"),
                             details={"model": os.path.abspath(job.out), "data": dev.path,
                                      "task": task, "step": result.step})
        _write_report(report, job.out)
    return result, report


def _write_report(report, out):
    from tfbert.atomic import atomic_file, write_json

    write_json(os.path.join(out, REPORT + ".json"), report)
    rows = [("teacher", report["teacher"]), ("student", report["student"])]
    dev = report.get("dev")
    lines = ["| model | layers | hidden | parameters |"
             + (f" dev {dev['metric']} | agreement with the teacher |" if dev else ""),
             "|---|---|---|---|" + ("---|---|" if dev else "")]
    for name, row in rows:
        line = f"| {name} | {row['layers']} | {row['hidden_size']} | {row['parameters']:,} |"
        if dev:
            agreement = "—" if name == "teacher" else f"{dev['agreement']:.2%}"
            line += f" {dev[name]:.4f} | {agreement} |"
        lines.append(line)
    with atomic_file(os.path.join(out, REPORT + ".md")) as staging:
        with open(staging, "w", encoding="utf-8") as f:
            f.write(f"# Distillation\n\nstudent: {report['student']['from']}\n\n"
                    + "\n".join(lines) + "\n")
