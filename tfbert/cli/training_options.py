"""The options `tfbert pretrain` and `tfbert finetune` share, and `TrainSettings` from them;
the columns of labelled data that `evaluate` and `calibrate` read."""

import click

from tfbert.training.choices import DECAYS, OPTIMIZERS, PRECISIONS, SETTING_NAMES, STRATEGIES

_OPTIONS = [
    click.option("--strategy", type=click.Choice(STRATEGIES), default="auto", show_default=True,
                 help="auto: TPU if TPU_NAME, multiworker if TF_CONFIG, mirrored on >1 GPU, "
                      "else one device."),
    click.option("--batch-size", type=int, default=None,
                 help="Global batch per step (per-replica batch x replicas)."),
    click.option("--accumulation-steps", type=click.IntRange(min=1), default=1,
                 show_default=True, help="Micro-batches summed per optimizer step."),
    click.option("--epochs", type=float, default=None),
    click.option("--max-steps", type=click.IntRange(min=0), default=0,
                 help="Optimizer steps (overrides --epochs)."),
    click.option("--learning-rate", type=float, default=None),
    click.option("--warmup-ratio", type=float, default=None),
    click.option("--decay", type=click.Choice(DECAYS), default="linear", show_default=True),
    click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="adamw",
                 show_default=True),
    click.option("--weight-decay", type=float, default=0.01, show_default=True),
    click.option("--clip-norm", type=float, default=1.0, show_default=True,
                 help="Global gradient-norm cap (0: off)."),
    click.option("--precision", type=click.Choice(PRECISIONS), default="float32",
                 show_default=True, help="bfloat16/float16: mixed precision (float16 with "
                                         "dynamic loss scaling); auto: bfloat16 where the "
                                         "CPU, GPU or TPU computes it natively, else float32."),
    click.option("--xla", is_flag=True, help="Compile the step with XLA (always on with "
                                                           "KERAS_BACKEND=jax)."),
    click.option("--checkpoint-every", type=click.IntRange(min=0), default=0,
                 help="Steps between checkpoints (0: each epoch)."),
    click.option("--keep-checkpoints", type=click.IntRange(min=1), default=3,
                 show_default=True),
    click.option("--eval-every", type=click.IntRange(min=0), default=0,
                 help="Steps between dev evaluations (0: each epoch)."),
    click.option("--early-stopping", type=click.IntRange(min=0), default=0,
                 help="Stop after this many dev evaluations without improvement (0: off)."),
    click.option("--seed", type=click.IntRange(0, 2 ** 31 - 1), default=0, show_default=True),
    click.option("--deterministic", is_flag=True,
                 help="Deterministic ops: a resumed run ends with the same weights."),
    click.option("--log-every", type=click.IntRange(min=1), default=20, show_default=True),
]



_LABELLED_DATA = [
    click.option("--text-column", default="text", show_default=True),
    click.option("--pair-column", default="pair", show_default=True),
    click.option("--label-column", default=None,
                 help="[default: label; multi-label models: labels]"),
    click.option("--label-separator", default="|", show_default=True,
                 help="Multi-label models: what joins the labels of a CSV/TSV cell."),
]


def labelled_data_options(function):
    for option in reversed(_LABELLED_DATA):
        function = option(function)
    return function


def training_options(function):
    for option in reversed(_OPTIONS):
        function = option(function)
    return function


def settings_from(kwargs, **defaults):
    """Pops the training options out of `kwargs`; `defaults` fill the unset ones. Returns
    a `tfbert.training.trainer.TrainSettings`."""
    from tfbert.training.trainer import TrainSettings

    values = {name: kwargs.pop(name) for name in SETTING_NAMES}
    values = {k: (defaults[k] if v is None and k in defaults else v) for k, v in values.items()}
    return TrainSettings(**{k: v for k, v in values.items() if v is not None})


__all__ = ["training_options", "settings_from"]
