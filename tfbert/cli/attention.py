"""`tfbert attention MODEL --text T [--pair P] --out FILE.png|.html`."""

import os
import warnings

import click


@click.command("attention")
@click.argument("model")
@click.option("--text", required=True, help="The text whose attention is drawn.")
@click.option("--pair", help="A second text, read as the pair's second segment.")
@click.option("--out", "out_paths", required=True, multiple=True,
              type=click.Path(dir_okay=False),
              help="FILE.png (a heat map per layer and head) or FILE.html (one panel per "
                   "layer, heads coloured; self-contained); repeat for both.")
@click.option("--max-length", type=int, help="Pieces read [default: the model's].")
def command(model, text, pair, out_paths, max_length):
    """Draw the self-attention of every layer and head for a text.

    MODEL: a model directory of any task (its encoder is used), a checkpoint directory or
    a checkpoint name such as all-MiniLM-L6-v2 (see `tfbert presets`)."""
    from tfbert.applications.attention import FORMATS, AttentionViewer

    for path in out_paths:
        if os.path.splitext(path)[1].lower() not in FORMATS:
            raise click.BadParameter(f"{path}: expected a file ending in .png or .html",
                                     param_hint="--out")
    if not text.strip():
        raise click.BadParameter("is empty; expected a text", param_hint="--text")
    view = AttentionViewer.from_pretrained(model, max_length=max_length)(text, pair)
    layers, heads = view.weights.shape[:2]
    for path in out_paths:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            view.save(path)
        for warning in caught:   # (a missing CJK font: one line, not a traceback-like pair)
            click.echo(f"warning: {warning.message}", err=True)
        click.echo(f"{path}: {layers} layers x {heads} heads over {len(view.tokens)} pieces")
