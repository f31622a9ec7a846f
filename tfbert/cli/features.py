"""`tfbert features TRAIN_FILE OUT_DIR --task T (--init MODEL | --vocab V)`: a fine-tuning
file encoded once into TFRecord shards that `tfbert finetune --train OUT_DIR` streams."""

import click

from tfbert.task import FINETUNE_TASKS, MAX_LENGTH, MIN_LENGTH, WINDOW_POOLINGS


@click.command("features")
@click.argument("train_file", type=click.Path(exists=True, dir_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--task", required=True, type=click.Choice(FINETUNE_TASKS))
@click.option("--init", help="The model to fine-tune (its vocabulary and casing): a model "
              "directory, checkpoint or checkpoint name.")
@click.option("--vocab", type=click.Path(exists=True, dir_okay=False),
              help="Or the vocab.txt of a fresh --preset model.")
@click.option("--cased", is_flag=True, help="With --vocab: keep case and accents.")
@click.option("--max-length", type=click.IntRange(MIN_LENGTH, MAX_LENGTH), default=None,
              help="Tokens per input [default: 128; qa: 384].")
@click.option("--text-column", default="text", show_default=True)
@click.option("--pair-column", default="pair", show_default=True)
@click.option("--label-column", default=None,
              help="[default: label; with --multi-label: labels]")
@click.option("--multi-label", is_flag=True, help="classify/pair: a set of labels per example.")
@click.option("--label-separator", default="|", show_default=True,
              help="With --multi-label: what joins the labels of a CSV/TSV cell.")
@click.option("--doc-stride", type=click.IntRange(min=1), default=None,
              help="As tfbert finetune's: how far apart windows of long inputs start.")
@click.option("--max-query-length", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--window-pooling", type=click.Choice(WINDOW_POOLINGS), default=None,
              help="classify/pair: long texts in --doc-stride windows, as tfbert finetune's.")
@click.option("--examples-per-shard", type=click.IntRange(min=1), default=10_000,
              show_default=True, help="Examples encoded (in memory) per shard.")
def command(train_file, out_dir, task, init, vocab, cased, max_length, text_column,
            pair_column, label_column, multi_label, label_separator, doc_stride,
            max_query_length, window_pooling, examples_per_shard):
    """Encode TRAIN_FILE once into TFRecord shards in OUT_DIR for `tfbert finetune --train
    OUT_DIR` (data that need not fit in memory). Give the options finetune will be given.
    Re-running the same command skips finished shards."""
    from tfbert.training.feature_files import FeatureJob, write_features
    from tfbert.training.tasks import Columns

    job = FeatureJob(task=task, train=train_file, out=out_dir, init=init, vocab=vocab,
                     lowercase=not cased, max_length=max_length,
                     columns=Columns(text_column, label_column, pair_column),
                     doc_stride=doc_stride, window_pooling=window_pooling,
                     max_query_length=max_query_length, multi_label=multi_label,
                     label_separator=label_separator, examples_per_shard=examples_per_shard)
    manifest = write_features(job, echo=click.echo)
    click.echo(f"{manifest['rows']} rows from {manifest['examples']} examples in "
               f"{len(manifest['shards'])} shards; manifest: {out_dir}/manifest.json")
