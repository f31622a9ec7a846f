"""`tfbert pretrain DATA --out DIR`: masked-LM (+ next-sentence) pre-training."""

import click

from tfbert.cli.training_options import settings_from, training_options
from tfbert.training.choices import PRETRAIN_DEFAULTS


@click.command("pretrain")
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(), help="The model directory to write.")
@click.option("--vocab", type=click.Path(exists=True, dir_okay=False),
              help="The vocab.txt the data was made with (default: --init's).")
@click.option("--preset", default="small", show_default=True,
              help="Model size for a fresh model: tiny, mini, small, medium, base, large.")
@click.option("--init", help="Continue pre-training this instead: a model directory, "
              "checkpoint or checkpoint name (see `tfbert presets`).")
@click.option("--dev", type=click.Path(exists=True, file_okay=False),
              help="A pretrain-data directory scored for masked-LM accuracy.")
@click.option("--no-nsp", is_flag=True, help="Masked LM only, no next-sentence head.")
@click.option("--whole-word/--no-whole-word", default=None,
              help="Mask whole words (default: as pretrain-data recorded).")
@click.option("--max-predictions", type=click.IntRange(min=0), default=0,
              help="Masked positions per sequence (0: 15% of the sequence length).")
@training_options
def command(data, out, vocab, preset, init, dev, no_nsp, whole_word, max_predictions,
            **kwargs):
    """Pre-train BERT on DATA (the output of `tfbert pretrain-data`). Running the same
    command again on the same --out resumes from the last checkpoint."""
    from tfbert.training.pretrain import PretrainJob, pretrain

    settings = settings_from(kwargs, **PRETRAIN_DEFAULTS)
    job = PretrainJob(data=data, out=out, vocab=vocab, preset=preset, init=init, dev=dev,
                      next_sentence=not no_nsp, whole_word=whole_word,
                      max_predictions=max_predictions, strategy=kwargs.pop("strategy"),
                      settings=settings)
    result = pretrain(job)
    click.echo(f"{result.step} steps; model directory: {out}")
