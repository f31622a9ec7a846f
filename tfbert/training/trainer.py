"""The distributed training loop: one custom `strategy.run` loop for every strategy.

Per optimizer step each replica takes `accumulation_steps` micro-batches, sums their
gradients (losses normalised over the global batch, see `losses`), and the gradients are
all-reduced once; the optimizer clips the global norm and applies them. The data order
is a function of the seed and the epoch, and a checkpoint records the step, so a run
killed and started again skips the batches it has done and, with deterministic ops,
ends with the weights of an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time

import keras
import tensorflow as tf

from tfbert.atomic import write_json
from tfbert.progress import progress_bar
from tfbert.training import checkpoints, optimization
from tfbert.training.choices import PRECISIONS
from tfbert.training.precision import resolve as resolve_precision
from tfbert.training.strategy import is_chief, per_replica_batch


@dataclasses.dataclass
class TrainSettings:
    """How to train. `batch_size` is the global batch of one micro-step (per-replica batch
    times replicas); an optimizer step sees `batch_size * accumulation_steps` examples."""

    batch_size: int = 32
    accumulation_steps: int = 1
    epochs: float = 3
    max_steps: int = 0            # optimizer steps; overrides epochs when set
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    decay: str = "linear"
    optimizer: str = "adamw"
    weight_decay: float = 0.01
    clip_norm: float = 1.0        # 0: no clipping
    precision: str = "float32"
    xla: bool = False
    checkpoint_every: int = 0     # optimizer steps; 0: at the end of each epoch
    keep_checkpoints: int = 3
    eval_every: int = 0           # optimizer steps; 0: at the end of each epoch
    early_stopping: int = 0       # evaluations without improvement before stopping; 0: off
    seed: int = 0
    deterministic: bool = False
    log_every: int = 20

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {PRECISIONS}. "
                             f"Received: {self.precision!r}")
        # `auto` becomes what the hardware runs natively (the run's identity records it);
        # `precision_note` says why, for the run's first lines.
        self.precision, self.precision_note = resolve_precision(self.precision)
        for name in ("batch_size", "accumulation_steps", "keep_checkpoints", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1. "
                                 f"Received: {getattr(self, name)}")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ValueError("give a positive --epochs or --max-steps")

    def identity(self) -> dict:
        """The settings that change the result (a resumed run must have the same)."""
        keep = ("batch_size", "accumulation_steps", "epochs", "max_steps", "learning_rate",
                "warmup_ratio", "decay", "optimizer", "weight_decay", "clip_norm",
                "precision", "seed", "eval_every", "early_stopping")
        return {k: getattr(self, k) for k in keep}


def prepare(settings: TrainSettings) -> None:
    """Seeds, op determinism and the dtype policy: called once, before building models."""
    keras.utils.set_random_seed(settings.seed)
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    policy = {"float32": "float32", "bfloat16": "mixed_bfloat16",
              "float16": "mixed_float16"}[settings.precision]
    keras.mixed_precision.set_global_policy(policy)


@dataclasses.dataclass
class TrainResult:
    step: int
    total_steps: int
    history: list
    best_metric: float | None
    stopped_early: bool


class Trainer:
    """Trains `model` (built inside `strategy.scope()`) on `loss` (see `losses`).

    `out_dir/checkpoints` holds the last `keep_checkpoints` checkpoints (weights, optimizer
    state, step), `best.safetensors` (best dev weights) and `state.json`; `out_dir/logs`
    the TensorBoard scalars. `evaluate(model) -> {metric: value}` scores the dev data;
    `metric` (higher is better) picks the best weights and drives early stopping.
    `kept`: the part of `model` whose weights are the result (`best.safetensors`,
    `final_weights`), when `model` trains more than it keeps (a distiller's student).
    `rate_factors`: one learning-rate factor per variable of `model.trainable_variables`
    (layer-wise decay, `optimization.layer_rate_factors`); None: the schedule's rate for all.
    """

    def __init__(self, strategy, model, loss, settings: TrainSettings, out_dir,
                 examples_per_epoch: int, evaluate=None, metric=None, verbose=True,
                 kept=None, rate_factors=None):
        self.strategy = strategy
        self.model = model
        self.kept = kept if kept is not None else model
        self.loss = loss
        self.settings = settings
        self.out_dir = os.path.abspath(out_dir)
        self.evaluate = evaluate
        self.metric = metric
        self.verbose = verbose
        self.chief = is_chief(strategy)
        per_replica_batch(strategy, settings.batch_size)
        self.step_batch = settings.batch_size * settings.accumulation_steps
        self.steps_per_epoch = examples_per_epoch // self.step_batch
        if self.steps_per_epoch < 1:
            raise ValueError(f"{examples_per_epoch} training examples make no step of "
                             f"{self.step_batch} (batch size x accumulation steps); lower "
                             "--batch-size or add data")
        self.total_steps = settings.max_steps or max(
            1, int(math.ceil(settings.epochs * self.steps_per_epoch)))
        self.schedule = optimization.make_schedule(
            settings.learning_rate, self.total_steps, settings.warmup_ratio, settings.decay)
        with strategy.scope():
            self.optimizer = optimization.make_optimizer(
                settings.optimizer, self.schedule, settings.weight_decay, settings.clip_norm,
                loss_scale=settings.precision == "float16")
            self.optimizer.build(model.trainable_variables)
            if rate_factors is not None:
                getattr(self.optimizer, "inner_optimizer", self.optimizer).set_rate_factors(
                    model.trainable_variables, rate_factors)
        self._jax = None
        if keras.backend.backend() == "jax":
            from tfbert.training.jax_steps import JaxSteps

            # The whole step is one XLA program on JAX, whatever --xla says.
            self._jax = JaxSteps(model, loss, self.optimizer, settings.accumulation_steps,
                                 getattr(strategy, "distribution", None))
        else:
            # --xla on one replica compiles the whole step (gradients and update) into one
            # XLA program, as on JAX; across replicas the all-reduce stays outside XLA, so
            # only the forward and backward pass are compiled.
            whole = settings.xla and strategy.num_replicas_in_sync == 1 and \
                settings.precision != "float16"
            self._gradients = tf.function(self._micro_step,
                                          jit_compile=settings.xla and not whole)
            if whole:
                self._replica_step = tf.function(self._replica_step, jit_compile=True)
            # Fine-tuning batches are cut to their longest row: a few shapes, then one
            # shape-generic trace.
            self._train_step = tf.function(self._distributed_step, reduce_retracing=True)
        # The checkpoints hold every variable of the model, the dropout seed generators'
        # states included, so a resumed run draws the masks an uninterrupted one would.
        self.store = checkpoints.CheckpointStore(
            os.path.join(self.out_dir, "checkpoints"), settings.keep_checkpoints,
            model=model, optimizer=self.optimizer, chief=self.chief)

    # === The step ===

    def _micro_step(self, inputs, targets, counts):
        with tf.GradientTape() as tape:
            outputs = self.model(inputs, training=True)
            sums = self.loss.sums(outputs, targets)
            loss = tf.add_n([sums[c] / counts[c] for c in sorted(sums)])
            scaled = self.optimizer.scale_loss(loss) if isinstance(
                self.optimizer, keras.optimizers.LossScaleOptimizer) else loss
        variables = self.model.trainable_variables
        grads = tape.gradient(scaled, variables)
        # Weights the loss does not reach (the pooler under a token, span or mean-pooling
        # head) get no gradient; they are left out of the update, weight decay included
        # (noted while tracing, so the step's structure stays fixed).
        self._unused = {i for i, g in enumerate(grads) if g is None}
        # Embedding gradients come as IndexedSlices; the optimizer densifies them anyway.
        return loss, [tf.zeros(v.shape, v.dtype) if g is None else tf.convert_to_tensor(g)
                      for g, v in zip(grads, variables)]

    def _replica_step(self, inputs, targets):
        context = tf.distribute.get_replica_context()
        k = self.settings.accumulation_steps
        counts = context.all_reduce(tf.distribute.ReduceOp.SUM, self.loss.counts(targets))
        counts = {c: tf.maximum(n, 1.0) for c, n in counts.items()}
        if k == 1:
            loss, grads = self._gradients(inputs, targets, counts)
        else:
            def micro(tensor):  # (k * b, ...) -> (k, b, ...)
                return tf.reshape(tensor, tf.concat([[k, -1], tf.shape(tensor)[1:]], 0))

            inputs, targets = tf.nest.map_structure(micro, (inputs, targets))
            variables = self.model.trainable_variables
            grads = [tf.zeros(v.shape, v.dtype) for v in variables]
            loss = tf.constant(0.0)
            for i in tf.range(k):
                part = tf.nest.map_structure(lambda t: t[i], (inputs, targets))
                micro_loss, micro_grads = self._gradients(part[0], part[1], counts)
                loss += micro_loss
                grads = [a + g for a, g in zip(grads, micro_grads)]
        used = [i for i in range(len(grads)) if i not in self._unused]
        grads = context.all_reduce(tf.distribute.ReduceOp.SUM, [grads[i] for i in used])
        variables = self.model.trainable_variables
        self.optimizer.apply(grads, [variables[i] for i in used])
        return loss

    def _distributed_step(self, inputs, targets):
        losses = self.strategy.run(self._replica_step, args=(inputs, targets))
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    # === The run ===

    def _epoch_batches(self, make_dataset, epoch, skip):
        dataset = make_dataset(epoch, self.step_batch).take(self.steps_per_epoch).skip(skip) \
            .prefetch(tf.data.AUTOTUNE)
        if self._jax is not None:
            return self._jax.batches(dataset)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = \
            tf.data.experimental.AutoShardPolicy.DATA
        options.deterministic = True
        return self.strategy.experimental_distribute_dataset(dataset.with_options(options))

    def fit(self, make_dataset) -> TrainResult:
        """`make_dataset(epoch, batch)`: the epoch's `(inputs, targets)` batches of `batch`
        examples, in an order fixed by the seed and `epoch`, dropping a short last batch."""
        state = self.store.restore()
        if self._jax is not None:
            self._jax.load()
        step, history = state.get("step", 0), state.get("history", [])
        best, stale = state.get("best_metric"), state.get("evaluations_without_improvement", 0)
        stopped = state.get("stopped_early", False)
        writer = tf.summary.create_file_writer(os.path.join(self.out_dir, "logs")) \
            if self.chief else tf.summary.create_noop_writer()
        progress = progress_bar(self.total_steps, self.verbose and self.chief,
                                stateful_metrics=["loss", "lr", "examples/s"])
        if step:
            progress.update(step)
        window_loss, window_steps, window_start = 0.0, 0, time.perf_counter()
        window_examples, throughput = 0, 0.0
        while step < self.total_steps and not stopped:
            epoch, skip = divmod(step, self.steps_per_epoch)
            epoch_start = step
            for inputs, targets in self._epoch_batches(make_dataset, epoch, skip):
                loss = self._jax.step(inputs, targets) if self._jax is not None else \
                    float(self._train_step(inputs, targets))
                if not math.isfinite(loss) and self.settings.precision != "float16":
                    raise FloatingPointError(
                        f"step {step + 1}: the loss is {loss}; lower --learning-rate, or "
                        "resume from the last checkpoint with other settings")
                step += 1
                # float16: a non-finite step was skipped by the loss scaler; keep it out of
                # the averages (the data position still moves on).
                if math.isfinite(loss):
                    window_loss, window_steps = window_loss + loss, window_steps + 1
                window_examples += self.step_batch
                end_of_epoch = step % self.steps_per_epoch == 0
                last = step >= self.total_steps
                # The rate the optimizer applies next (its own step count: float16's skipped
                # steps do not advance it).
                learning_rate = self._jax.learning_rate() if self._jax is not None else \
                    float(self.optimizer.learning_rate)
                if step % self.settings.log_every == 0 or last:
                    seconds = time.perf_counter() - window_start
                    row = {"step": step, "loss": window_loss / max(window_steps, 1),
                           "learning_rate": learning_rate,
                           "examples_per_second": window_examples / seconds}
                    history.append(row)
                    self._summaries(writer, row)
                    throughput = row["examples_per_second"]
                    window_loss, window_steps, window_start = 0.0, 0, time.perf_counter()
                    window_examples = 0
                shown = [("loss", loss), ("lr", learning_rate)]
                if throughput > 0:  # once the first logging window has measured it
                    shown.append(("examples/s", throughput))
                progress.update(step, shown)
                every = self.settings.eval_every
                if self.evaluate and ((every and step % every == 0) or
                                      (not every and end_of_epoch) or last):
                    self._sync()
                    scores = self.evaluate(self.kept)
                    row = {"step": step, **{f"dev_{k}": v for k, v in scores.items()
                                            if isinstance(v, (int, float))}}
                    history.append(row)
                    self._summaries(writer, row)
                    if best is None or scores[self.metric] > best:
                        best, stale = scores[self.metric], 0
                        self.store.save_best(self.kept)
                    else:
                        stale += 1
                    stopped = bool(self.settings.early_stopping
                                   and stale >= self.settings.early_stopping)
                    if self.verbose and self.chief:
                        print(f"\nstep {step}: dev " + ", ".join(
                            f"{k} {v:.4f}" for k, v in scores.items()
                            if isinstance(v, (int, float))) + (
                            "  (early stop)" if stopped else ""), flush=True)
                every = self.settings.checkpoint_every
                if (every and step % every == 0) or (not every and end_of_epoch) or last \
                        or stopped:
                    self._sync()
                    self.store.save(step, {
                        "step": step, "history": history, "best_metric": best,
                        "evaluations_without_improvement": stale, "stopped_early": stopped})
                if stopped or last:
                    break
            if step == epoch_start:
                raise ValueError(f"epoch {epoch} gave no batch after the {skip} already done; "
                                 f"the data must give {self.steps_per_epoch} batches of "
                                 f"{self.step_batch} per epoch")
        writer.close()
        self._sync()
        if self.chief:
            self._write_history(history)
        return TrainResult(step, self.total_steps, history, best, stopped)

    def _sync(self):
        """On JAX, the state the steps carry as arrays into the model's variables."""
        if self._jax is not None:
            self._jax.sync()

    def _summaries(self, writer, row):
        # `tf.summary.scalar` needs the tensorboard package; this writes the same scalar
        # events (plugin "scalars", a float32 scalar) with TensorFlow alone.
        metadata = tf.compat.v1.SummaryMetadata(
            plugin_data=tf.compat.v1.SummaryMetadata.PluginData(plugin_name="scalars"))
        with writer.as_default(step=row["step"]):
            for key, value in row.items():
                if key != "step":
                    tf.summary.write(key, tf.constant(value, tf.float32), metadata=metadata)
        writer.flush()

    def _write_history(self, history):
        write_json(os.path.join(self.out_dir, "history.json"), history)
        from tfbert.evaluation import plot_training_curves

        plot_training_curves(history, os.path.join(self.out_dir, "training_curves.png"))

    def final_weights(self):
        """The model (`kept`) with its best dev weights when there was a dev set, else as
        trained."""
        best = self.store.best_path
        if self.evaluate is not None and os.path.isfile(best):
            from tfbert.model_dir import assign_weights, read_weights

            assign_weights(self.kept, read_weights(best), source=best)
        return self.kept

