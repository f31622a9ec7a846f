"""`tfbert evaluate MODEL DATA [--output report.json]`."""

import click

from tfbert.cli.training_options import labelled_data_options


@click.command("evaluate")
@click.argument("model")
@click.argument("data", type=click.Path(exists=True))
@click.option("--output", type=click.Path(dir_okay=False),
              help="Write the metrics as JSON here, a Markdown report beside it (and a "
                   "confusion matrix and a reliability diagram PNG for classification).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--max-batches", type=click.IntRange(min=0), default=0,
              help="Pre-training data: score only this many batches (0: all).")
@labelled_data_options
@click.option("--doc-stride", type=click.IntRange(min=1),
              help="qa, ner and classify/pair models fine-tuned with windows: windows of a "
                   "long input start this many pieces apart [default: the model's "
                   "task.json].")
def command(model, data, output, batch_size, max_batches, text_column, pair_column,
            label_column, label_separator, doc_stride):
    """Score MODEL on labelled DATA.

    MODEL: a model directory, checkpoint or checkpoint name (see `tfbert presets`). DATA:
    labelled data in its task's format, or a pretrain-data directory for a pre-trained
    model."""
    from tfbert.training.evaluate import evaluate_model
    from tfbert.training.tasks import Columns

    metrics = evaluate_model(model, data, output, batch_size,
                             Columns(text_column, label_column, pair_column), max_batches,
                             doc_stride=doc_stride, label_separator=label_separator)
    for key, value in metrics.items():
        if isinstance(value, (int, float)):
            click.echo(f"{key:>12}: {value:.4f}" if isinstance(value, float)
                       else f"{key:>12}: {value}")
    if output:
        import os

        stem = os.path.splitext(output)[0]
        written = [p for p in (output, stem + ".md", stem + "_confusion.png",
                               stem + "_reliability.png")
                   if os.path.isfile(p)]
        click.echo(f"report: {', '.join(written)}")
