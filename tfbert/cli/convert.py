"""`tfbert convert SRC DST`: any supported checkpoint to tfbert, Hugging Face or Google."""

import click

from tfbert.convert.loader import FORMATS


@click.command("convert")
@click.argument("src")
@click.argument("dst", type=click.Path())
@click.option("--to", "to", type=click.Choice(FORMATS), default="tfbert", show_default=True,
              help="Output format: a tfbert model directory, a Hugging Face directory "
                   "(config.json + model.safetensors) or a Google TF1 checkpoint.")
def command(src, dst, to):
    """Convert the checkpoint SRC and write it to DST.

    SRC: a model directory, checkpoint or checkpoint name (see `tfbert presets`), in the
    tfbert, Hugging Face, Google TF1 or keras-hub format."""
    from tfbert.convert.loader import convert

    checkpoint = convert(src, dst, to=to)
    click.echo(f"{src} ({checkpoint.format}, task {checkpoint.spec.task}) -> {dst} ({to})")
    if checkpoint.fresh:
        click.echo("note: not in the source, left at initial values: "
                   + ", ".join(checkpoint.fresh))
