"""Entry point of the `tfbert` command.

Commands load on demand: `tfbert --help`, `--version` and `tfbert CMD --help` import neither
TensorFlow nor a command's library code. TensorFlow is imported (quietly, see
`tfbert.quiet.import_tensorflow`) just before a command that needs it runs.

User errors (`ValueError`, missing files) end as one line on stderr and exit code 2;
`--debug` shows the traceback (and TensorFlow's start-up notes) instead.
"""

import contextlib
import functools
import importlib
import os
import sys

import click

from tfbert.textfile import first_line

# Command name -> the module whose `command` it is.
COMMANDS = {name: "tfbert.cli." + name.replace("-", "_") for name in (
    "attention", "calibrate", "convert", "datasets", "demo", "distill", "evaluate", "export", "features",
    "finetune", "info", "predict", "presets", "pretrain", "pretrain-data", "score",
    "summarize", "trim-vocab", "vocab")}
# Commands that never load TensorFlow; every other one imports it before it runs.
WITHOUT_TENSORFLOW = ("datasets", "presets")


def _tensorflow_io_errors() -> tuple:
    """TensorFlow's file errors (a full disk while saving a checkpoint, a file cut short),
    if TensorFlow is loaded; its message names the file. Other TF errors are bugs."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return ()
    return (tf.errors.OutOfRangeError, tf.errors.ResourceExhaustedError,
            tf.errors.DataLossError, tf.errors.NotFoundError, tf.errors.PermissionDeniedError)


def _tensorflow_first(command: click.Command) -> click.Command:
    """Makes `command` (each command of a group) import TensorFlow quietly once its
    arguments are parsed, so that its `--help` stays fast."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _tensorflow_first(sub)
        return command
    callback = command.callback
    if callback is None or getattr(callback, "tensorflow_first", False):
        return command

    @functools.wraps(callback)
    def run(*args, **kwargs):
        from tfbert.quiet import import_tensorflow

        import_tensorflow(debug=click.get_current_context().meta.get("tfbert.debug", False))
        return callback(*args, **kwargs)

    run.tensorflow_first = True
    command.callback = run
    return command


def _unavailable(name: str, error: ImportError) -> click.Command:
    """Stands in for a command whose module does not import: the other commands and
    `tfbert --help` still work; running this one raises the import error."""

    def fail(**_):
        raise error

    return click.Command(name, callback=fail, help=f"(not available: {first_line(error)})",
                         context_settings={"ignore_unknown_options": True,
                                           "allow_extra_args": True})


class _Group(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        try:
            module = importlib.import_module(COMMANDS[name])
        except ImportError as err:
            return _unavailable(name, err)
        if name in WITHOUT_TENSORFLOW:
            return module.command
        return _tensorflow_first(module.command)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader stopped reading (`tfbert presets | head`): nothing to report; stdout
            # goes to /dev/null so that Python's flush at exit does not complain either.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
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
        except KeyboardInterrupt:
            # What was finished is on disk (every file is written beside its place, then
            # renamed); the same command resumes.
            click.echo("Interrupted; finished files are kept (training, pretrain-data and "
                       "demo continue where they stopped when run again).", err=True)
            sys.exit(130)
        except Exception as err:
            if ctx.meta.get("tfbert.debug") or not isinstance(err, _tensorflow_io_errors()):
                raise
            click.echo(f"Error: {first_line(err)[:300]}", err=True)
            sys.exit(2)


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
@click.option("--debug", is_flag=True,
              help="Show the full traceback on errors, and TensorFlow's start-up notes.")
@click.version_option(package_name="tfbert-keras")
@click.pass_context
def cli(ctx, debug):
    """tfbert: BERT for Keras 3 / TensorFlow, from raw corpus to serving artifacts."""
    ctx.meta["tfbert.debug"] = debug


def main():
    cli(prog_name="tfbert")


if __name__ == "__main__":
    main()
