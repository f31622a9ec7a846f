"""Streaming prediction: records are read, answered and written `chunk_size` at a time, so
memory stays bounded whatever the input's size, and output line i answers input record i.

>>> from tfbert.predict import load_predictor
>>> from tfbert.predict.stream import predict_file
>>> predictor = load_predictor("runs/bbc")                                 # doctest: +SKIP
>>> predict_file(predictor, "news.txt", "answers.jsonl").records           # doctest: +SKIP
120000

A record whose text (qa: question or context) is blank, such as an empty line of a `.txt`
file, is answered by itself with an `"error"` key instead of a prediction: a prediction on
no text means nothing, and skipping the line would shift every answer after it.

With an output path the answers are staged beside it and renamed into place when complete;
a run killed part way resumes after its last complete chunk when run again with the same
input, model and options (`tfbert.predict.resume`). Written to a stream (stdout) they go
out chunk by chunk and cannot be resumed.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import sys

from tfbert.predict.inputs import check_format, input_records, is_blank
from tfbert.predict.resume import input_identity, model_identity, open_staging

DEFAULT_CHUNK_SIZE = 1024
EMPTY = {"qa": "empty question or context: nothing to answer"}
EMPTY_TEXT = "empty text: nothing to predict"


@dataclasses.dataclass
class StreamResult:
    """What a streaming run wrote: `records` output lines (one per input record), `empty`
    of them error records for blank inputs, the first `resumed_after` of them by an earlier,
    interrupted run; `output` the file (None: a stream)."""

    records: int
    empty: int
    resumed_after: int
    output: str | None


def predict_file(predictor, input_path, output=None, *, chunk_size=DEFAULT_CHUNK_SIZE,
                 text_column="text", pair_column="pair", model=None, log=None) -> StreamResult:
    """Answers every record of `input_path` (`.txt`, `.jsonl`, `.csv`, `.tsv`; see
    `tfbert.predict.inputs`) with `predictor`, one JSON line each, into `output`: a path
    (resumable, see the module docstring), a text stream, or None for stdout.

    `model`: the path the predictor was loaded from (default: its `source`, which
    `load_predictor` sets); a killed run resumes only when the input file, this model and
    the options are unchanged, so without one it starts over. `log` takes the one-line
    notes (resuming, starting over); default stderr.
    """
    input_path = os.fspath(input_path)
    task = predictor.task
    check_format(input_path, task)
    regular = os.path.isfile(input_path)
    total = None
    if regular:
        # One pass over the input, holding nothing, before any answer: a bad line 900,000
        # stops the run before it has cost an hour, and the count goes into the notes.
        total = sum(1 for _ in input_records(input_path, task, text_column, pair_column))
    model = model if model is not None else getattr(predictor, "source", None)
    identity = None
    if isinstance(output, (str, os.PathLike)) and regular and model is not None:
        identity = {"input": input_identity(input_path), "model": model_identity(model),
                    "options": options(predictor, chunk_size, text_column, pair_column)}
    records = (record for _, record in input_records(input_path, task, text_column,
                                                      pair_column))
    return predict_records(predictor, records, output, chunk_size=chunk_size,
                           identity=identity, total=total, log=log)


def options(predictor, chunk_size, text_column="text", pair_column="pair") -> dict:
    """Everything besides the input and the model that decides the output's bytes: the
    chunk and batch sizes decide which records share a padded batch, hence the last bits
    of a score."""
    return {"runtime": type(predictor).__name__, "task": predictor.spec.to_dict(),
            "chunk_size": chunk_size, "batch_size": getattr(predictor, "batch_size", None),
            "top_k": getattr(predictor, "top_k", None),
            "n_best": getattr(predictor, "n_best", None),
            "text_column": text_column, "pair_column": pair_column}


def predict_records(predictor, records, output=None, *, chunk_size=DEFAULT_CHUNK_SIZE,
                    identity=None, total=None, log=None) -> StreamResult:
    """Answers an iterable of record dicts `chunk_size` at a time into `output` (a path, a
    text stream, None: stdout). With a path, `identity` (what the answers depend on; None:
    never resume) decides whether a killed run's answers are kept; `total` (the number of
    records, if known) goes into the note that says so."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"--chunk-size must be a positive integer. Received: {chunk_size!r}")
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    records = iter(records)
    if not isinstance(output, (str, os.PathLike)):
        stream, done, empty = output or sys.stdout, 0, 0
        for chunk in _chunks(records, chunk_size):
            text, blank = answer_lines(predictor, chunk)
            stream.write(text)
            stream.flush()   # a reader downstream sees each chunk as it is answered
            done, empty = done + len(chunk), empty + blank
        return StreamResult(done, empty, 0, None)
    staging = open_staging(output, identity, log)
    resumed = staging.records
    try:
        if resumed:
            skipped = sum(1 for _ in itertools.islice(records, resumed))
            assert skipped == resumed, "the input's fingerprint matched but it is shorter"
            log(f"{staging.output}: resuming after {resumed} of the input's "
                f"{'' if total is None else f'{total} '}records")
        for chunk in _chunks(records, chunk_size):
            text, blank = answer_lines(predictor, chunk)
            staging.commit_chunk(text.encode("utf-8"), len(chunk), blank)
        staging.finish()
    except OSError as err:
        staging.close(keep=identity is not None)
        if err.filename is None and err.errno is not None:  # a full disk: name the output
            raise OSError(err.errno, err.strerror, staging.output) from None
        raise
    except BaseException:
        # With an identity the answers so far are kept for the next run; without, nothing
        # could resume them.
        staging.close(keep=identity is not None)
        raise
    return StreamResult(staging.records, staging.empty, resumed, staging.output)


def answer_lines(predictor, chunk) -> tuple:
    """`(JSON lines, number of blank records)` answering `chunk` in order: a blank record
    gets an error record, every other one the predictor's answer."""
    task = predictor.task
    blank = [is_blank(record, task) for record in chunk]
    wanted = [record for record, empty in zip(chunk, blank) if not empty]
    answers = iter(predictor.predict(wanted) if wanted else [])
    lines = [json.dumps({**record, "error": EMPTY.get(task, EMPTY_TEXT)} if empty
                        else next(answers), ensure_ascii=False) + "\n"
             for record, empty in zip(chunk, blank)]
    return "".join(lines), sum(blank)


def _chunks(records, size):
    while True:
        chunk = list(itertools.islice(records, size))
        if not chunk:
            return
        yield chunk
