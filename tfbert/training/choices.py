"""The names training options accept, without TensorFlow: `tfbert --help` lists them before
anything heavy loads. `strategy`, `optimization` and `trainer` check against these."""

STRATEGIES = ("auto", "one", "mirrored", "multiworker", "tpu")
OPTIMIZERS = ("adamw", "lamb")
DECAYS = ("linear", "polynomial", "constant")
PRECISIONS = ("float32", "bfloat16", "float16", "auto")

# The fields of `TrainSettings` (a test keeps them in step): the training options of both
# commands and keyword arguments of `tfbert.finetune` / `tfbert.pretrain`.
SETTING_NAMES = ("batch_size", "accumulation_steps", "epochs", "max_steps", "learning_rate",
                 "warmup_ratio", "decay", "optimizer", "weight_decay", "clip_norm",
                 "precision", "xla", "checkpoint_every", "keep_checkpoints", "eval_every",
                 "early_stopping", "seed", "deterministic", "log_every")
# Each job's defaults where they differ from `TrainSettings`' own (command and Python alike).
FINETUNE_DEFAULTS = dict(batch_size=32, epochs=3, learning_rate=5e-5, warmup_ratio=0.1)
PRETRAIN_DEFAULTS = dict(batch_size=32, epochs=1, learning_rate=1e-4, warmup_ratio=0.01)
# A student is smaller than its teacher and learns from soft targets: more epochs, a
# higher rate.
DISTILL_DEFAULTS = dict(batch_size=32, epochs=10, learning_rate=2e-4, warmup_ratio=0.1)
