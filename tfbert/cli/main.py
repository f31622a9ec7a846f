"""Entry point of the `tfbert` command.

User errors (`ValueError`, missing files) end as one line on stderr and exit code 2;
`--debug` shows the traceback instead.
"""

import os
import sys

import click

from tfbert.textfile import first_line

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _import_tensorflow_quietly():
    """TensorFlow and tf-text log start-up notes (oneDNN, no CUDA) through absl before any
    log level applies; hold them back unless the import fails."""
    from tfbert.quiet import held_stderr

    with held_stderr():
        import tensorflow
        import tensorflow_text  # noqa: F401
    # TensorFlow's Python warnings (AutoGraph falling back to plain Python, retracing) are
    # for library developers; --debug shows errors in full.
    tensorflow.get_logger().setLevel("ERROR")


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (ValueError, OSError) as err:
            if ctx.meta.get("tfbert.debug"):
                raise
            click.echo(f"Error: {error_line(err)}", err=True)
            sys.exit(2)
        except click.UsageError as err:
            # click's default prints three lines (usage, hint, error); one is enough.
            if ctx.meta.get("tfbert.debug"):
                raise
            command = err.ctx.command_path if err.ctx else "tfbert"
            click.echo(f"Error: {err.format_message()} (see '{command} -h')", err=True)
            sys.exit(2)
        except _IO_ERRORS as err:
            # TensorFlow's file errors (a full disk while saving a checkpoint, a file cut
            # short); its message names the file. Other TF errors are bugs: traceback.
            if ctx.meta.get("tfbert.debug"):
                raise
            click.echo(f"Error: {first_line(err)[:300]}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            # What was finished is on disk (every file is written beside its place, then
            # renamed); the same command resumes.
            click.echo("Interrupted; finished files are kept (training, pretrain-data and "
                       "demo continue where they stopped when run again).", err=True)
            sys.exit(130)


def _io_errors():
    import tensorflow as tf

    return (tf.errors.OutOfRangeError, tf.errors.ResourceExhaustedError,
            tf.errors.DataLossError, tf.errors.NotFoundError, tf.errors.PermissionDeniedError)


def error_line(err) -> str:
    """One line for a user error: an `OSError` as `FILE: reason` (Python's own text,
    "[Errno 28] No space left on device: 'x'", puts the file last)."""
    if isinstance(err, OSError) and err.strerror:
        hint = {28: "; free space or choose another output directory",
                27: "; the file size limit was reached",
                13: "; this user may not access it: check its permissions",
                30: "; choose a writable output directory"}.get(err.errno, "")
        if err.filename is None:
            return f"{err.strerror}{hint}"
        extra = f" (and {err.filename2})" if getattr(err, "filename2", None) else ""
        return f"{err.filename}{extra}: {err.strerror}{hint}"
    return first_line(err)


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
_IO_ERRORS = _io_errors()


def main():
    cli(prog_name="tfbert")


if __name__ == "__main__":
    main()
