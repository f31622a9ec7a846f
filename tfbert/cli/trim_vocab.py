"""`tfbert trim-vocab MODEL --corpus FILE --out DIR`."""

import click


@click.command("trim-vocab")
@click.argument("model")
@click.option("--corpus", required=True, multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="Texts the model must keep reading exactly: .txt one per line, or "
                   ".jsonl/.csv/.tsv text (and pair) columns. Repeatable.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="The trimmed model directory to write.")
def command(model, corpus, out):
    """Keep only the vocabulary CORPUS needs (plus special tokens and single characters):
    a smaller embedding, the same pieces and outputs on every corpus text."""
    from tfbert.convert.trim import trim_vocab

    click.echo(f"{trim_vocab(model, list(corpus), out).summary()}; model directory: {out}")
