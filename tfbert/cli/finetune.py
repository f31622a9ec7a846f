"""`tfbert finetune --task T --train F --out DIR (--init MODEL | --preset P --vocab V)`."""

import click

from tfbert.cli.training_options import settings_from, training_options
from tfbert.task import FINETUNE_TASKS, MAX_LENGTH, MIN_LENGTH, POOLINGS, WINDOW_POOLINGS
from tfbert.training.choices import FINETUNE_DEFAULTS


@click.command("finetune")
@click.option("--task", required=True, type=click.Choice(FINETUNE_TASKS))
@click.option("--train", required=True, type=click.Path(exists=True, dir_okay=False),
              help="classify/pair: .jsonl/.csv/.tsv; ner: CoNLL; qa: SQuAD JSON.")
@click.option("--dev", type=click.Path(exists=True, dir_okay=False),
              help="Scored each epoch; the best weights are kept.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="The model directory to write (re-run to resume).")
@click.option("--init", help="Start from this: a model directory, checkpoint or checkpoint "
              "name (see `tfbert presets`); tfbert, Hugging Face, Google or keras-hub.")
@click.option("--preset", help="Or a fresh model of this size (needs --vocab).")
@click.option("--vocab", type=click.Path(exists=True, dir_okay=False))
@click.option("--cased", is_flag=True, help="With --preset: keep case and accents.")
@click.option("--max-length", type=click.IntRange(MIN_LENGTH, MAX_LENGTH), default=None,
              help="Tokens per input [default: 128; qa: 384].")
@click.option("--text-column", default="text", show_default=True)
@click.option("--pair-column", default="pair", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option("--doc-stride", type=click.IntRange(min=1), default=None,
              help="Long inputs become windows that start this many pieces apart: qa "
                   "contexts [default: 128]; ner sentences [default: half a window, so each "
                   "word is read where it has context on both sides]; classify/pair texts "
                   "(pair: the first text) when given [default: no windows, the first "
                   "--max-length pieces; half a window with --window-pooling].")
@click.option("--max-query-length", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--pooling", type=click.Choice(POOLINGS), default=None,
              help="classify/pair: the head reads the pooler over [CLS] (BERT's) or the "
                   "average of the non-padding positions [default: what --init declares "
                   "(sentence-transformers checkpoints such as all-MiniLM-L6-v2: mean), "
                   "else cls].")
@click.option("--window-pooling", type=click.Choice(WINDOW_POOLINGS), default=None,
              help="classify/pair: read long texts in --doc-stride windows, each a training "
                   "row with its text's label, and score a text by the mean or the max of "
                   "its windows' logits [default: mean when --doc-stride is given].")
@training_options
def command(task, train, dev, out, init, preset, vocab, cased, max_length, text_column,
            pair_column, label_column, doc_stride, max_query_length, pooling, window_pooling,
            **kwargs):
    """Fine-tune a task head on TRAIN and write a model directory to OUT."""
    from tfbert.training.finetune import FinetuneJob, finetune
    from tfbert.training.tasks import Columns

    settings = settings_from(kwargs, **FINETUNE_DEFAULTS)
    job = FinetuneJob(task=task, train=train, dev=dev, out=out, init=init, preset=preset,
                      vocab=vocab, lowercase=not cased,
                      max_length=max_length,
                      columns=Columns(text_column, label_column, pair_column),
                      doc_stride=doc_stride,
                      max_query_length=max_query_length, pooling=pooling,
                      window_pooling=window_pooling,
                      strategy=kwargs.pop("strategy"), settings=settings)
    result, metrics = finetune(job)
    summary = ""
    if metrics:
        summary = "; dev " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                                       if isinstance(v, float))
    click.echo(f"{result.step} steps{summary}; model directory: {out}")
