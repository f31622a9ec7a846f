"""The options every command with a Beam pipeline takes (`--runner`, `--num-workers`,
`--pipeline-options`), in one place so that they read the same everywhere."""

import click


def beam_options(command):
    """Adds the three options to a click command."""
    for option in reversed([
            click.option("--runner", help="Run as an Apache Beam pipeline on this runner: "
                         "direct (local processes), dataflow, flink, spark, portable, prism or "
                         "a runner class name. Needs the beam extra. Without it: no Beam."),
            click.option("--num-workers", type=click.IntRange(min=1),
                         help="With --runner: worker processes (direct) or machines (others)."),
            click.option("--pipeline-options", metavar="FLAGS",
                         help="With --runner: Beam pipeline flags passed through, as one "
                              "string (e.g. \"--project=p --region=us-central1 "
                              "--temp_location=gs://b/tmp\").")]):
        command = option(command)
    return command


def check_without_runner(**given) -> None:
    """Flags that mean something only with --runner, given without it: one-line error."""
    for flag, value in given.items():
        if value is not None:
            raise click.BadParameter(f"--{flag.replace('_', '-')} goes with --runner (a Beam "
                                     "pipeline)")


def pipeline_options(runner, num_workers, options, job_name):
    from tfbert.data import beam_pipeline

    return beam_pipeline.pipeline_options(runner, num_workers, options, job_name=job_name)
