"""`tfbert pretrain`: masked-LM (+ next-sentence) pre-training from `pretrain-data` output.

Masks are drawn afresh each epoch in tf.data (`Masker`); the epoch's order and masks
depend only on the seed and the epoch, so a resumed run sees the batches an uninterrupted
run would. The output directory is a model directory of task `pretrain` (encoder, tied
masked-LM head and, unless `--no-nsp`, the next-sentence head), loadable by `finetune
--init` and `tfbert.load`.
"""

from __future__ import annotations

import dataclasses
import os

from tfbert.atomic import sha256_file
from tfbert.config import BertConfig
from tfbert.data.masking import masked_batches
from tfbert.data.pretraining import check_vocab_size, read_manifest, verify_shards
from tfbert.model_dir import task_model, write_model_files
from tfbert.task import TaskSpec
from tfbert.training import checkpoints, losses
from tfbert.training.strategy import describe, is_chief, make_strategy, per_replica_batch
from tfbert.training.trainer import Trainer, TrainSettings, prepare

DEV_BATCH = 32


@dataclasses.dataclass
class PretrainJob:
    data: str                       # a `tfbert pretrain-data` directory
    out: str
    vocab: str | None = None        # the vocabulary the data was made with
    preset: str | None = "small"
    init: str | None = None         # or continue from a checkpoint (same vocabulary)
    dev: str | None = None          # a pretrain-data directory for masked-LM accuracy
    next_sentence: bool = True      # False: masked LM only
    whole_word: bool | None = None  # None: as the data was made
    max_predictions: int = 0        # 0: ceil(15 % of the sequence length)
    dev_batches: int = 50
    strategy: str = "auto"
    settings: TrainSettings = dataclasses.field(default_factory=lambda: TrainSettings(
        learning_rate=1e-4, epochs=1, warmup_ratio=0.01))

    def __post_init__(self):
        """The settings that need no file read, checked when the job is built; errors name
        the flag. (What the data directory's manifest says is checked by `pretrain`.)"""
        for flag, path in (("DATA", self.data), ("--dev", self.dev)):
            if path and not os.path.isdir(path):
                raise ValueError(f"{flag} {path}: no such directory; expected a "
                                 "`tfbert pretrain-data` output directory")
        if self.vocab and not os.path.isfile(self.vocab):
            raise ValueError(f"--vocab {self.vocab}: no such file")
        if self.init:   # a checkpoint name (tfbert presets) becomes its directory
            from tfbert.registry import checkpoint_path

            self.init = checkpoint_path(self.init, "--init")
        if not self.init:
            try:
                BertConfig.from_name(self.preset or "", vocab_size=1)
            except ValueError as err:
                raise ValueError(f"--preset: {err}") from None
        for flag, value, low in (("--max-predictions", self.max_predictions, 0),
                                 ("dev_batches", self.dev_batches, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{flag} must be an integer of at least {low}. "
                                 f"Received: {value!r}")

    def identity(self, manifest) -> dict:
        return {"command": "pretrain",
                "data": [s["sha256"] for s in manifest["shards"]],
                "vocab": sha256_file(self.vocab) if self.vocab else None,
                "preset": None if self.init else self.preset,
                "init": checkpoints.fingerprint(self.init) if self.init else None,
                "dev": os.path.abspath(self.dev) if self.dev else None,
                "next_sentence": self.next_sentence, "whole_word": self.whole_word,
                "max_predictions": self.max_predictions, "settings": self.settings.identity()}


def _check_data(job, manifest):
    settings = manifest["settings"]
    if job.next_sentence and not settings.get("next_sentence", True):
        raise ValueError(f"{job.data}: was made with --no-nsp (no next-sentence labels); "
                         "pre-train with --no-nsp too")


def pretrain(job: PretrainJob, verbose=True):
    """Runs (or resumes) `job`; returns the `TrainResult`."""
    from tfbert.convert.loader import model_from_checkpoint, read_checkpoint
    from tfbert.modeling import BertEncoder
    from tfbert.tokenization import read_vocab

    manifest = read_manifest(job.data)
    verify_shards(job.data, manifest)
    settings = manifest["settings"]
    checkpoint = None
    if job.init:
        checkpoint = read_checkpoint(job.init)
        # A pre-trained model with the same heads continues whole (masked-LM transform
        # and bias, next-sentence head); anything else gives its encoder.
        same_heads = checkpoint.spec.task == "pretrain" and \
            checkpoint.spec.next_sentence == job.next_sentence
        if not same_heads:
            checkpoint = checkpoint.restricted_to("encoder")
        job.vocab = job.vocab or checkpoint.vocab_file
    if not job.vocab:
        raise ValueError("--vocab is required: the vocab.txt the data was made with")
    vocab = read_vocab(job.vocab)
    check_vocab_size(job.data, manifest, len(vocab), f"--vocab {job.vocab}")
    _check_data(job, manifest)
    if job.dev:
        dev_manifest = read_manifest(job.dev)
        verify_shards(job.dev, dev_manifest)
        check_vocab_size(job.dev, dev_manifest, len(vocab), f"--vocab {job.vocab}",
                         data_flag="--dev ")
        if dev_manifest["instances"] < DEV_BATCH:
            raise ValueError(f"--dev {job.dev}: {dev_manifest['instances']} instances, fewer "
                             f"than one scoring batch of {DEV_BATCH}")
    identity = job.identity(manifest)  # hashes the vocabulary and --init files: once
    resuming = checkpoints.check_output_dir(job.out, identity)
    strategy = make_strategy(job.strategy)
    per_replica_batch(strategy, job.settings.batch_size)
    if checkpoint is not None:
        config = checkpoint.config
        if config.vocab_size != len(vocab):
            raise ValueError(f"--init {job.init}: vocabulary of {config.vocab_size}, the "
                             f"data's is {len(vocab)}")
    else:
        config = BertConfig.from_name(job.preset, vocab_size=len(vocab),
                                      max_position_embeddings=max(512, settings["seq_len"]))
    spec = TaskSpec(task="pretrain", next_sentence=job.next_sentence,
                    max_length=settings["seq_len"], lowercase=settings.get("lowercase", True))
    prepare(job.settings)
    with strategy.scope():
        if checkpoint is not None and checkpoint.spec.task == "pretrain":
            model = model_from_checkpoint(checkpoint)
        else:
            encoder = model_from_checkpoint(checkpoint) if checkpoint is not None \
                else BertEncoder.from_bert_config(config)
            model = task_model(encoder, spec)
    seed = job.settings.seed

    def make_dataset(epoch, batch):
        batches, _ = masked_batches(job.data, vocab, batch, seed, epoch, job.max_predictions,
                                    job.whole_word)
        return batches

    evaluate = None
    if job.dev:
        from tfbert.training.evaluate import pretrain_metrics

        def evaluate(model):
            return pretrain_metrics(model, job.dev, vocab, DEV_BATCH,
                                    max_batches=job.dev_batches, verify=False)

    trainer = Trainer(strategy, model, losses.PretrainLoss(job.next_sentence), job.settings,
                      job.out, manifest["instances"], evaluate=evaluate,
                      metric="mlm_accuracy", verbose=verbose)
    if is_chief(strategy):
        checkpoints.write_run(job.out, identity)
        if verbose:
            print(f"training on {describe(strategy)}", flush=True)
            if job.settings.precision_note:
                print(job.settings.precision_note, flush=True)
            print(f"{'resuming' if resuming else 'starting'} pre-training: "
                  f"{manifest['instances']} instances of {settings['seq_len']} tokens, "
                  f"{strategy.num_replicas_in_sync} replica(s)", flush=True)
    result = trainer.fit(make_dataset)
    model = trainer.final_weights()
    if is_chief(strategy):
        write_model_files(model, config, spec, job.out, job.vocab)
    return result
