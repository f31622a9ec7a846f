"""`tfbert finetune`: a task head on a pre-trained (or fresh preset) encoder, trained with
the distributed loop, written as a model directory.

The output directory is the model directory: `config.json`, `vocab.txt`, `task.json`,
`model.safetensors` (the best dev weights when there is a dev set), `checkpoints/` for
resuming, `logs/` (TensorBoard), `history.json`, `training_curves.png` and the dev report.
Running the same command again on the same `--out` resumes the run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os

from tfbert.atomic import sha256_file
from tfbert.config import BertConfig
from tfbert.model_dir import task_model, write_model_files
from tfbert.registry import checkpoint_path
from tfbert.task import (FINETUNE_TASKS, POOLED_TASKS, POOLINGS, TaskSpec, WINDOW_POOLINGS,
                         check_doc_stride, check_max_length)
from tfbert.data.readers import LABEL_SEPARATOR
from tfbert.data.feature_shards import MANIFEST, is_features_dir
from tfbert.training import checkpoints, losses, scoring, tasks, train_data
from tfbert.training.calibration import calibrate as fit_calibration, calibration_details, \
    calibration_note
from tfbert.training.class_weights import class_weights_from_counts, parse_class_weights
from tfbert.training.optimization import layer_rate_factors
from tfbert.training.strategy import describe, is_chief, make_strategy, per_replica_batch
from tfbert.training.trainer import Trainer, TrainSettings, prepare

@dataclasses.dataclass
class FinetuneJob:
    """Every setting of a fine-tuning run, checked when the job is built (before any data
    file is read); errors name the command-line flag. Defaults that depend on the task
    (`max_length`: 384 for qa, else 128; `doc_stride`) are filled in then."""

    task: str
    train: str
    out: str
    dev: str | None = None
    init: str | None = None          # a model directory or any supported checkpoint
    # False: --init's architecture, vocabulary and casing with fresh random weights (what
    # its pre-training bought, measured: the same fine-tuning from no pre-training).
    load_weights: bool = True
    preset: str | None = None        # or a preset size with a vocabulary
    vocab: str | None = None
    lowercase: bool = True           # with --preset (a checkpoint declares its own)
    max_length: int | None = None    # None: `default_max_length(task)`
    columns: tasks.Columns = dataclasses.field(default_factory=tasks.Columns)
    doc_stride: int | None = None    # None: `default_stride(task, max_length)`
    # classify/pair: "mean" or "max" reads long texts in windows (TaskSpec.window_pooling);
    # None: "mean" when --doc-stride is given, else no windows ("": the first max_length).
    window_pooling: str | None = None
    max_query_length: int = 64
    # classify/pair: "cls" or "mean" (TaskSpec.pooling); None: what --init declares
    # (sentence-transformers' modules.json), else "cls".
    pooling: str | None = None
    # classify/pair: each example has a set of labels (sigmoid head), read from the label
    # column (default "labels") as a JSON list or a CSV/TSV cell joined by `label_separator`.
    multi_label: bool = False
    label_separator: str = LABEL_SEPARATOR
    # classify/pair with --dev: fit a temperature (kept if it lowers dev ECE) and, for
    # multi-label, each label's threshold on dev, stored in task.json.
    calibrate: bool = True
    # classify/pair, class imbalance (training only, not in task.json): "balanced", a JSON
    # file {label: weight} or (Python) that dict; `focal_gamma` > 0: focal loss.
    class_weights: str | dict | None = None
    focal_gamma: float = 0.0
    # Layer-wise learning-rate decay (ELECTRA): block k of L learns at
    # `learning_rate * layer_decay ** (L + 1 - k)`, the embeddings at `** (L + 2)`, the head
    # at `learning_rate`; 1.0: off.
    layer_decay: float = 1.0
    strategy: str = "auto"
    settings: TrainSettings = dataclasses.field(default_factory=TrainSettings)

    def __post_init__(self):
        if self.task not in FINETUNE_TASKS:
            raise ValueError(f"--task must be one of {FINETUNE_TASKS}. Received: {self.task!r}")
        self.max_length, self.doc_stride, self.window_pooling = tasks.task_defaults(
            self.task, self.max_length, self.doc_stride, self.window_pooling)
        if self.columns.label is None:
            self.columns = dataclasses.replace(
                self.columns, label="labels" if self.multi_label else "label")
        if self.init:   # a checkpoint name (tfbert presets) becomes its directory
            self.init = checkpoint_path(self.init, "--init")
        if self.pooling is None:
            from tfbert.convert.loader import declared_pooling

            self.pooling = declared_pooling(self.init) if self.init and \
                self.task in POOLED_TASKS else "cls"
        self.validate()

    def validate(self):
        """The checks of `__post_init__` that do not fill defaults (every flag's value and
        combination, and that the files given exist)."""
        if bool(self.init) == bool(self.preset):
            raise ValueError("give either --init MODEL or --preset NAME with --vocab VOCAB")
        if not self.load_weights and not self.init:
            raise ValueError("--no-load-weights goes with --init (whose architecture is "
                             "kept); --preset already starts from random weights")
        if self.preset and not self.vocab:
            raise ValueError(f"--preset {self.preset} needs --vocab (a vocab.txt)")
        if self.init and (self.vocab or not self.lowercase):
            raise ValueError("--vocab and --cased go with --preset; --init uses the "
                             "checkpoint's own vocabulary and casing")
        if not self.dev and (self.settings.early_stopping or self.settings.eval_every):
            raise ValueError("--early-stopping and --eval-every need --dev")
        if os.path.isdir(self.train) and not os.path.isfile(
                os.path.join(self.train, MANIFEST)):
            raise ValueError(f"--train {self.train}: a directory without {MANIFEST}; expected a "
                             "task file or a finished tfbert features directory")
        for flag, path in (("--train", self.train), ("--dev", self.dev),
                           ("--vocab", self.vocab)):
            if path and not os.path.isfile(path) and not (
                    flag == "--train" and os.path.isdir(path)):
                raise ValueError(f"{flag} {path}: no such file")
        if self.init and not os.path.exists(self.init):
            raise ValueError(f"--init {self.init}: no such file or directory")
        check_doc_stride(self.doc_stride)
        if not 0.0 < self.layer_decay <= 1.0:
            raise ValueError(f"--layer-decay must be in (0, 1] (1: off). "
                             f"Received: {self.layer_decay}")
        if self.window_pooling and self.window_pooling not in WINDOW_POOLINGS:
            raise ValueError(f"--window-pooling must be one of {WINDOW_POOLINGS}. Received: "
                             f"{self.window_pooling!r}")
        if self.window_pooling and self.task not in POOLED_TASKS:
            raise ValueError(f"--window-pooling applies to classify and pair, not to "
                             f"--task {self.task}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"--pooling must be one of {POOLINGS}. Received: {self.pooling!r}")
        if self.multi_label and self.task not in POOLED_TASKS:
            raise ValueError(f"--multi-label applies to classify and pair, not to --task "
                             f"{self.task}")
        if not isinstance(self.label_separator, str) or not self.label_separator.strip():
            raise ValueError(f"--label-separator must be a non-blank string. Received: "
                             f"{self.label_separator!r}")
        if self.pooling != "cls" and self.task not in POOLED_TASKS:
            raise ValueError(f"--pooling {self.pooling} applies to classify and pair, not to "
                             f"--task {self.task}")
        self._check_imbalance()
        if self.preset:
            try:
                positions = BertConfig.from_name(self.preset,
                                                 vocab_size=1).max_position_embeddings
            except ValueError as err:
                raise ValueError(f"--preset: {err}") from None
            check_max_length(self.max_length, max_position_embeddings=positions)

    def _check_imbalance(self):
        if isinstance(self.focal_gamma, bool) or not isinstance(self.focal_gamma, (int, float)) \
                or not math.isfinite(self.focal_gamma) or self.focal_gamma < 0:
            raise ValueError(f"--focal-gamma must be a number >= 0 (0: plain cross-entropy). "
                             f"Received: {self.focal_gamma!r}")
        for flag, given in (("--class-weights", self.class_weights is not None),
                            ("--focal-gamma", self.focal_gamma)):
            if given and self.task not in POOLED_TASKS:
                raise ValueError(f"{flag} applies to classify and pair, not to "
                                 f"--task {self.task}")
        if self.class_weights is not None:
            parse_class_weights(self.class_weights)

    def imbalance(self) -> dict:
        """The class-imbalance settings given (none by default)."""
        return {**({"class_weights": parse_class_weights(self.class_weights)}
                   if self.class_weights is not None else {}),
                **({"focal_gamma": float(self.focal_gamma)} if self.focal_gamma else {})}

    def identity(self) -> dict:
        """What defines the run: a resumed run must match it exactly."""
        return {"command": "finetune", "task": self.task,
                # features: their manifest, which holds every shard's SHA-256
                "train": sha256_file(os.path.join(self.train, MANIFEST)
                                     if is_features_dir(self.train) else self.train),
                "dev": sha256_file(self.dev) if self.dev else None,
                "init": checkpoints.fingerprint(self.init) if self.init else None,
                # Runs from before --no-load-weights (no such key) loaded them.
                **({"load_weights": False} if not self.load_weights else {}),
                "preset": self.preset, "vocab": sha256_file(self.vocab) if self.vocab else None,
                "lowercase": self.lowercase if self.preset else None,
                "max_length": self.max_length, "columns": dataclasses.asdict(self.columns),
                "doc_stride": self.doc_stride, "max_query_length": self.max_query_length,
                "settings": self.settings.identity(),
                # Runs from before --pooling (no such key) read [CLS].
                **({"pooling": self.pooling} if self.pooling != "cls" else {}),
                **({"multi_label": True, "label_separator": self.label_separator}
                   if self.multi_label else {}),
                # Runs from before --class-weights/--focal-gamma have neither key.
                **self.imbalance(),
                # Runs from before --layer-decay (no such key) had none.
                **({"layer_decay": self.layer_decay} if self.layer_decay != 1.0 else {}),
                **({"window_pooling": self.window_pooling} if self.window_pooling else {}),
                # NER windows overlap when the stride is below a window; runs from before
                # overlapping windows (no such key) resume only with windows as they had.
                **({"ner_windows": "overlapping"} if self.task == "ner"
                   and self.doc_stride < self.max_length - 2 else {})}


def _encoder_source(job: FinetuneJob):
    """`(config, vocab file, lowercase, build_encoder)`."""
    from tfbert.convert.loader import model_from_checkpoint, read_checkpoint
    from tfbert.tokenization.casing import declared_lowercase
    from tfbert.modeling import BertEncoder
    from tfbert.tokenization import read_vocab

    if job.init:
        try:
            checkpoint = read_checkpoint(job.init).restricted_to("encoder")
        except ValueError as err:
            raise ValueError(f"--init: {err}") from None
        if not checkpoint.vocab_file:
            raise ValueError(f"--init {job.init}: has no vocab.txt; expected a model "
                             "directory or checkpoint with its vocabulary")
        lowercase = declared_lowercase(job.init) if os.path.isdir(job.init) else True
        if not job.load_weights:   # the architecture only: built (seeded) in the scope
            return (checkpoint.config, checkpoint.vocab_file, lowercase,
                    lambda: BertEncoder.from_bert_config(checkpoint.config))
        return (checkpoint.config, checkpoint.vocab_file, lowercase,
                lambda: model_from_checkpoint(checkpoint))
    config = BertConfig.from_name(job.preset, vocab_size=len(read_vocab(job.vocab)))
    return config, job.vocab, job.lowercase, lambda: BertEncoder.from_bert_config(config)


def finetune(job: FinetuneJob, verbose=True):
    """Runs (or resumes) `job`; returns `(TrainResult, dev metrics or None)`."""
    from tfbert.tokenization import BertTokenizer

    identity = job.identity()  # hashes the data and --init files: once
    resuming = checkpoints.check_output_dir(job.out, identity)
    strategy = make_strategy(job.strategy)
    per_replica_batch(strategy, job.settings.batch_size)
    config, vocab_file, lowercase, build_encoder = _encoder_source(job)
    if job.init:   # (a preset's positions were checked when the job was built)
        check_max_length(job.max_length,
                         max_position_embeddings=config.max_position_embeddings)
    tokenizer = BertTokenizer.from_file(vocab_file, lowercase=lowercase)
    # A task file is read once (its labels, then its encoding); features are streamed.
    train = train_data.streamed(job, tokenizer) if is_features_dir(job.train) \
        else train_data.in_memory(job, tokenizer)
    labels, windows = train.labels, bool(job.window_pooling)
    dev = tasks.load_task_data(job.task, job.dev, tokenizer, labels, job.max_length,
                               job.columns, job.doc_stride, job.max_query_length,
                               job.multi_label, job.label_separator, windows) \
        if job.dev else None
    no_answer, scheme, first_iob1 = train.no_answer, train.tag_scheme, train.first_iob1
    spec = TaskSpec(task=job.task, labels=tuple(labels), max_length=job.max_length,
                    lowercase=lowercase, doc_stride=job.doc_stride,
                    max_query_length=job.max_query_length, no_answer=no_answer,
                    tag_scheme=scheme, pooling=job.pooling, multi_label=job.multi_label,
                    window_pooling=job.window_pooling)
    prepare(job.settings)
    with strategy.scope():
        model = task_model(build_encoder(), spec)
    evaluate = scoring.dev_scorer(job.task, labels, dev, no_answer=no_answer,
                                  tag_scheme=scheme, multi_label=job.multi_label,
                                  window_pooling=job.window_pooling) \
        if dev else None
    weights = class_weights_from_counts(job.class_weights, labels, train.label_counts,
                                        train.size, job.multi_label) \
        if job.class_weights is not None else None
    # What the loss weighs, for the log and the dev report: the weights as resolved.
    imbalance = {**({"class_weights": dict(zip(labels, weights))} if weights else {}),
                 **({"focal_gamma": float(job.focal_gamma)} if job.focal_gamma else {})}
    loss = losses.for_task(job.task, multi_label=job.multi_label, class_weights=weights,
                           focal_gamma=job.focal_gamma)
    rate_factors = None if job.layer_decay == 1.0 else layer_rate_factors(
        [v.path for v in model.trainable_variables], config.num_layers, job.layer_decay)
    trainer = Trainer(strategy, model, loss, job.settings, job.out, train.size,
                      evaluate=evaluate, metric=scoring.main_metric(job.task, job.multi_label),
                      verbose=verbose, rate_factors=rate_factors)
    # Only now, with every setting checked (the trainer checks the step count and
    # schedule), does --out become this run's.
    if is_chief(strategy):
        checkpoints.write_run(job.out, identity)
        if verbose:
            print(f"training on {describe(strategy)}", flush=True)
            if job.settings.precision_note:
                print(job.settings.precision_note, flush=True)
            print(f"{'resuming' if resuming else 'starting'} {job.task} fine-tuning on "
                  f"{strategy.num_replicas_in_sync} replica(s); {train.note}"
                  + (f"; dev: {dev.note}" if dev else ""), flush=True)
            if imbalance:
                print(f"loss: {json.dumps(imbalance, ensure_ascii=False)}", flush=True)
            if job.task == "ner":
                print("tags: IOB2; predictions are the best valid IOB2 sequence" if not
                      first_iob1 else f"tags: IOB1 ({train.source}: sentence {first_iob1[0]} "
                      f"opens an entity with {first_iob1[1]}); predictions are each word's "
                      "most probable tag", flush=True)
    result = trainer.fit(train.make_dataset(job.settings.seed))
    model = trainer.final_weights()
    metrics = None
    if is_chief(strategy):
        outputs = scoring.model_outputs(model, dev.inputs) if dev else None
        calibration = None
        if dev and job.task in POOLED_TASKS and (job.calibrate or job.multi_label):
            # (texts read in windows: their pooled logits, as every runtime scores them)
            logits, truth = scoring.document_logits(outputs, dev, job.window_pooling)
            calibration = fit_calibration(logits, truth, job.multi_label, job.calibrate)
            spec = dataclasses.replace(spec, temperature=calibration["temperature"],
                                       thresholds=calibration["thresholds"])
        if dev and no_answer:
            # SQuAD v2 data: "no answer" from the null-score margin that is best on dev.
            threshold, f1 = scoring.null_threshold(outputs, dev)
            spec = dataclasses.replace(spec, null_threshold=threshold)
            if verbose:
                print(f"null threshold {threshold:.4g} (dev F1 {f1:.2f} with it)", flush=True)
        write_model_files(model, config, spec, job.out, vocab_file)
        if dev:
            from tfbert.training.evaluate import write_evaluation

            metrics = scoring.score(job.task, labels, outputs, dev, no_answer, scheme,
                                    multi_label=job.multi_label, temperature=spec.temperature,
                                    thresholds=spec.thresholds,
                                    window_pooling=job.window_pooling,
                                    null_threshold=spec.null_threshold)
            write_evaluation(metrics, job.task, labels, os.path.join(job.out, "dev_report.json"),
                             details={"model": os.path.abspath(job.out), "data": dev.path,
                                      "task": job.task, "step": result.step, **imbalance,
                                      **({"doc_stride": job.doc_stride}
                                         if spec.windows else {}),
                                      **({"window_pooling": job.window_pooling}
                                         if job.window_pooling else {}),
                                      **({"null_threshold": spec.null_threshold}
                                         if no_answer else {}),
                                      **(calibration_details(calibration) if calibration
                                         else {})})
            if verbose and calibration:
                print(calibration_note(calibration), flush=True)
    return result, metrics
