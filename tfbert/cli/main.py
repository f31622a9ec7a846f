"""Entry point of the `tfbert` command.

User errors (`ValueError`, missing files) end as one line on stderr and exit code 2;
`--debug` shows the traceback instead.
"""

import os
import sys

import click

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _import_tensorflow_quietly():
    """TensorFlow and tf-text log start-up notes (oneDNN, no CUDA) through absl before any
    log level applies; hold them back unless the import fails."""
    from tfbert.quiet import held_stderr

    with held_stderr():
        import tensorflow  # noqa: F401
        import tensorflow_text  # noqa: F401


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (ValueError, OSError) as err:
            if ctx.meta.get("tfbert.debug"):
                raise
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            click.echo(f"Error: {message}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
@click.version_option(package_name="tfbert")
@click.pass_context
def cli(ctx, debug):
    """tfbert: BERT for Keras 3 / TensorFlow, from raw corpus to serving artifacts."""
    ctx.meta["tfbert.debug"] = debug


def _register():
    # The training commands' options come from modules that import TensorFlow.
    _import_tensorflow_quietly()
    from tfbert.cli import (convert, datasets, demo, evaluate, export, finetune, info, predict,
                            pretrain, pretrain_data, vocab)

    for module in (convert, datasets, demo, evaluate, export, finetune, info, predict, pretrain,
                   pretrain_data, vocab):
        cli.add_command(module.command)


_register()


def main():
    cli(prog_name="tfbert")


if __name__ == "__main__":
    main()
