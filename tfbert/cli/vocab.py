"""`tfbert vocab FILES... --size N --out vocab.txt`: learn a WordPiece vocabulary."""

import click


@click.command("vocab")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--size", type=click.IntRange(min=6), required=True,
              help="Target number of tokens (CJK characters of the corpus are all kept).")
@click.option("--cased", is_flag=True, help="Keep case and accents (default: uncased).")
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True,
              help="Where to write vocab.txt.")
def command(files, size, cased, out):
    """Learn a WordPiece vocabulary from raw text FILES (one or more, read line by line)."""
    from tfbert.tokenization.vocab import learn_vocab, write_vocab

    vocab = learn_vocab(list(files), size, lowercase=not cased)
    write_vocab(vocab, out)
    click.echo(f"wrote {out}: {len(vocab)} tokens")
