"""What every tfbert Beam pipeline shares: the `--runner` and its options, checked before
anything runs, and one-line errors for what Beam reports at length.

Apache Beam is an optional dependency (the `beam` extra); this module is imported only
when a command is given `--runner`, so without it nothing imports Beam.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shlex
import sys

# tfbert's short names; any other name is passed to Beam as it is (a runner class name or
# a fully qualified one).
RUNNERS = {"direct": "DirectRunner", "dataflow": "DataflowRunner", "flink": "FlinkRunner",
           "spark": "SparkRunner", "portable": "PortableRunner", "prism": "PrismRunner"}


class PipelineError(ValueError):
    """A pipeline that could not start or did not finish (a runner missing, a worker
    killed): one line for the CLI, as a user error is; re-running the command is safe."""


@contextlib.contextmanager
def _quiet_root():
    """Beam's modules warn on the root logger as they load ("apitools not found, and
    bigquery client libraries are not available"), about runners tfbert is not using."""
    level = logging.root.level
    logging.root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logging.root.setLevel(level)


def import_beam():
    try:
        with _quiet_root():
            import apache_beam
    except ImportError:
        raise ValueError("--runner needs Apache Beam, which is not installed; install the "
                         "extra: pip install 'tfbert-keras[beam]'") from None
    return apache_beam


def pipeline_options(runner: str, num_workers: int | None = None, options: str | None = None,
                     job_name: str | None = None):
    """Beam `PipelineOptions` for `--runner RUNNER [--num-workers N] [--pipeline-options
    "..."]`. `options` is one string of Beam flags (`--project=p --region=r ...`), split as
    a shell would. An option Beam does not know, or a value it rejects, is a one-line
    `ValueError`."""
    import_beam()
    from apache_beam.options.pipeline_options import PipelineOptions

    try:
        flags = shlex.split(options or "")
    except ValueError as err:
        raise ValueError(f"--pipeline-options: {err}; expected Beam flags such as "
                         "'--project=my-project --region=us-central1'") from None
    flags = [f"--runner={RUNNERS.get(runner.lower(), runner)}"] + flags
    if num_workers:
        if runner.lower() in ("direct", "directrunner"):
            flags += [f"--direct_num_workers={num_workers}",
                      "--direct_running_mode=" + ("multi_processing" if num_workers > 1
                                                  else "in_memory")]
        else:
            flags.append(f"--num_workers={num_workers}")
    if job_name and not any(f.startswith("--job_name") for f in flags):
        flags.append(f"--job_name={job_name}")
    # Workers log at WARNING unless asked otherwise: INFO lines by the hundred per run.
    if not any(f.startswith("--default_sdk_harness_log_level") for f in flags):
        flags.append("--default_sdk_harness_log_level=WARNING")
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), _quiet_root():
            parsed = PipelineOptions(flags)
            known = parsed.get_all_options(retain_unknown_options=False)
            given = parsed.get_all_options(retain_unknown_options=True)
    except SystemExit:   # argparse's way of rejecting a value
        message = [line for line in stderr.getvalue().splitlines() if line.strip()]
        raise ValueError(f"--pipeline-options: Beam rejects the options "
                         f"({message[-1] if message else 'invalid'})") from None
    unknown = sorted(set(given) - set(known))
    if unknown:
        # Beam itself would only log "Discarding unparseable args" and run without them.
        raise ValueError(f"--pipeline-options: Beam does not know --{unknown[0]}; expected "
                         "Beam pipeline flags (the options of apache_beam.options."
                         "pipeline_options, e.g. --project, --region, --temp_location)")
    return parsed


@contextlib.contextmanager
def _stderr_to(path):
    """File descriptor 2 (this process's and the local workers' it starts, which inherit
    it) goes to `path`: Beam's workers log their start and end by the dozen lines."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def run_pipeline(build, options, what: str, log_path=None):
    """Builds (`build(pipeline)`) and runs a pipeline to the end. A runner that cannot be
    created or started, or a pipeline that fails, is one `PipelineError` line
    naming `--runner`; an error tfbert raised inside a worker (bad input) keeps its own
    message. `log_path`: where the runner's and local workers' logs go (else stderr)."""
    beam = import_beam()
    runner = options.get_all_options()["runner"]
    try:
        pipeline = beam.Pipeline(options=options)
    except (ImportError, ValueError) as err:
        raise PipelineError(f"--runner {runner}: cannot be used here ({_first_line(err)})") \
            from None
    # The runner logs each failure at length (worker tracebacks, job service); the one
    # line below says it, and --debug-free runs stay readable.
    beam_logger = logging.getLogger("apache_beam")
    level = beam_logger.level
    beam_logger.setLevel(logging.CRITICAL)
    try:
        with _stderr_to(log_path) if log_path else contextlib.nullcontext():
            build(pipeline)
            result = pipeline.run()
            result.wait_until_finish()
    except KeyboardInterrupt:
        raise
    except Exception as err:  # noqa: BLE001 - a worker's error comes back wrapped
        inner = _tfbert_error(err)
        if inner:
            raise ValueError(inner) from None
        log = f"; the runner's log: {log_path}" if log_path else ""
        raise PipelineError(f"--runner {runner}: {what} failed ({_first_line(err)}){log}") \
            from None
    finally:
        beam_logger.setLevel(level)
    state = str(getattr(result, "state", "DONE"))
    if "DONE" not in state:
        raise PipelineError(f"--runner {runner}: {what} ended in state {state}")


def _first_line(err) -> str:
    """What a runner's error says in one line: the last `SomeError: ...` line of the
    (often traceback-long) text, else its first line."""
    lines = [line.strip() for line in str(err).replace("\\n", "\n").splitlines()
             if line.strip()]
    named = [line for line in lines if re.match(r"^[A-Za-z_.]*(Error|Exception|Exit)\b:?", line)]
    text = (named or lines or [type(err).__name__])[-1]
    return text[:300]


# A ValueError raised by tfbert's code on a worker ("FILE: the line at byte N: ...") comes
# back inside the runner's error text; this marker finds it.
WORKER_ERROR = "tfbert-input-error: "


def _tfbert_error(err) -> str | None:
    # Across processes the worker's traceback arrives as quoted text ("\\n", "\\'").
    text = str(err).replace("\\n", "\n").replace("\\'", "'")
    at = text.find(WORKER_ERROR)
    if at < 0:
        return None
    line = text[at + len(WORKER_ERROR):].splitlines()[0]
    return re.sub(r" \[while running '.*", "", line).strip()
