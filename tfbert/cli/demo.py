"""`tfbert demo`: run the end-to-end demo on real, built-in weights."""

import click


@click.command("demo")
@click.option("--out", "out_dir", default="runs/minilm", show_default=True,
              type=click.Path(), help="Where the converted model directory goes.")
def command(out_dir):
    """Convert the real MiniLM-L6 checkpoint and show sentence similarity with it."""
    from tfbert.demo import run

    run(out_dir, echo=click.echo)
