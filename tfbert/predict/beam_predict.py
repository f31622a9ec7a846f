"""`tfbert predict MODEL --input FILE --output PREFIX --runner ...`: batch prediction as an
Apache Beam pipeline, with Beam's RunInference.

The input (`.txt`, one text per line, or `.jsonl`, one record per line) is read in byte
ranges (`tfbert.data.byte_ranges`), so workers read it in parallel; each line keeps its
line number in the file (a first pass counts each range's lines). RunInference batches
the records (`batch_size` at most) and runs them through a `TfbertModelHandler`, which
loads the model once per worker process with `tfbert.predict.load_predictor`: an exported
SavedModel (what TF Serving runs), a `.tflite` file or a model directory. The answers are
written as JSONL shards `PREFIX-SSSSS-of-NNNNN.jsonl` through Beam's text sink, one JSON
object per input line with its `line` (1-based) first: shards are not in input order, the
line number joins an answer to its input.
"""

from __future__ import annotations

import json
import os
import shutil

from tfbert.data import beam_pipeline

beam = beam_pipeline.import_beam()
# (after the check that Beam is installed)
from apache_beam.ml.inference.base import (KeyedModelHandler, ModelHandler,  # noqa: E402
                                           PredictionResult, RunInference)

from tfbert.data.byte_ranges import count_lines, plan_splits, split_lines  # noqa: E402
from tfbert.predict.inputs import check_format, is_blank, row_record  # noqa: E402
from tfbert.predict.stream import EMPTY, EMPTY_TEXT  # noqa: E402

SPLIT_MB = 16
FORMATS = ("txt", "jsonl")


class TfbertModelHandler(ModelHandler):
    """RunInference's view of a tfbert model: record dicts in, answer dicts out."""

    def __init__(self, model, batch_size=32, **predictor_options):
        super().__init__(min_batch_size=1, max_batch_size=batch_size)
        self.model, self.batch_size = model, batch_size
        self.predictor_options = predictor_options

    def load_model(self):
        from tfbert.predict import load_predictor

        return load_predictor(self.model, batch_size=self.batch_size, parameter="MODEL",
                              **self.predictor_options)

    def run_inference(self, batch, model, inference_args=None):
        answers = model.predict(list(batch))
        return [PredictionResult(record, answer) for record, answer in zip(batch, answers)]

    def get_num_bytes(self, batch) -> int:
        return sum(len(json.dumps(record, ensure_ascii=False)) for record in batch)

    def get_metrics_namespace(self) -> str:
        return "tfbert"


class LineRecords(beam.DoFn):
    """One byte range -> `(line number, record)` for its lines; `first_lines` (a side
    input) gives each range the number of lines before it. A record with blank text gets
    no prediction: its answer line (with an `"error"`, as streaming `predict` writes it)
    goes to the `"blank"` output."""

    def __init__(self, fmt, task, text_column="text", pair_column="pair"):
        self.fmt, self.task = fmt, task
        self.text_column, self.pair_column = text_column, pair_column

    def process(self, split, first_lines):
        _, split_index, path, start, end = split
        number = first_lines[split_index]
        try:
            for _, raw in split_lines(path, start, end):
                number += 1
                record = self._record(path, number, raw)
                if record is None:
                    continue
                if is_blank(record, self.task):
                    error = EMPTY.get(self.task, EMPTY_TEXT)
                    yield beam.pvalue.TaggedOutput("blank", json.dumps(
                        {"line": number, **record, "error": error}, ensure_ascii=False))
                else:
                    yield number, record
        except ValueError as err:
            raise ValueError(beam_pipeline.WORKER_ERROR + str(err).splitlines()[0]) from None

    def _record(self, path, number, raw: bytes):
        if b"\x00" in raw:
            raise ValueError(f"{path}: line {number}: a NUL byte; expected UTF-8 text (a "
                             "binary file? UTF-16 text: re-save it as UTF-8)")
        try:
            line = raw.decode("utf-8").rstrip("\n").rstrip("\r")
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}: line {number}: not UTF-8 (byte 0x{raw[err.start]:02x}); "
                             "expected UTF-8 text, re-save the file as UTF-8") from None
        if self.fmt == "txt":
            return {"text": line}
        if not line.strip():
            return None                 # a blank line of a JSONL file is no record
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: line {number}: invalid JSON ({err.msg}); expected one "
                             "JSON object per line") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}: line {number}: expected a JSON object")
        return row_record(row, path, number, self.task, self.text_column, self.pair_column)


def _answer(element) -> str:
    number, result = element
    return json.dumps({"line": number, **result.inference}, ensure_ascii=False)


def _first_lines(counts) -> dict:
    """`{range index: lines before it}` from `[(range index, lines)]` of one file."""
    first, total = {}, 0
    for index, lines in sorted(counts):
        first[index] = total
        total += lines
    return first


def predict_on_beam(model, input_path, output_prefix, options, task, batch_size=32,
                    text_column="text", pair_column="pair", split_mb=SPLIT_MB, echo=print,
                    **predictor_options):
    """Runs the pipeline; returns the paths of the JSONL shards written. `task`: the
    model's (records are read and checked for it, as `tfbert.predict.inputs` reads them);
    `predictor_options` go to `load_predictor` on each worker."""
    fmt = check_format(input_path, task)
    if fmt not in FORMATS:
        raise ValueError(f"--input {input_path}: with --runner, expected a .txt (one text per "
                         "line) or .jsonl (one record per line) file, which workers can read "
                         "in parallel; .csv/.tsv rows may span lines")
    output_prefix = os.path.abspath(output_prefix)
    directory, base = os.path.split(output_prefix)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as err:
        raise ValueError(f"--output {output_prefix}: cannot create its directory "
                         f"({err.strerror})") from None
    splits = plan_splits([input_path], max(1, int(split_mb * 1e6)))
    handler = KeyedModelHandler(TfbertModelHandler(model, batch_size, **predictor_options))
    # The shards are written under a staging directory and moved beside PREFIX only when
    # the pipeline has finished, so a failed run leaves an earlier run's answers as they were.
    staging = os.path.join(directory, f".{base}.beam-staging")
    shutil.rmtree(staging, ignore_errors=True)

    def build(pipeline):
        ranges = pipeline | "ranges" >> beam.Create(splits) | "spread" >> beam.Reshuffle()
        counts = ranges | "count lines" >> beam.Map(
            lambda s: (s[1], count_lines(s[2], s[3], s[4])))
        first = counts | "line numbers" >> beam.combiners.ToList() | beam.Map(_first_lines)
        records = ranges | "records" >> beam.ParDo(
            LineRecords(fmt, task, text_column, pair_column),
            beam.pvalue.AsSingleton(first)).with_outputs("blank", main="records")
        answers = records.records | "predict" >> RunInference(handler) | "json" >> beam.Map(
            _answer)
        ((answers, records.blank) | "all lines" >> beam.Flatten()
         | "write" >> beam.io.WriteToText(os.path.join(staging, base),
                                          file_name_suffix=".jsonl"))

    beam_pipeline.run_pipeline(build, options, "predict",
                               log_path=os.path.join(staging, "runner.log"))
    for name in os.listdir(directory):   # shards of an earlier run with the same prefix
        if name.startswith(base + "-") and name.endswith(".jsonl"):
            os.remove(os.path.join(directory, name))
    written = []
    for name in sorted(os.listdir(staging)):
        if name.startswith(base + "-") and name.endswith(".jsonl"):
            os.replace(os.path.join(staging, name), os.path.join(directory, name))
            written.append(os.path.join(directory, name))
    shutil.rmtree(staging, ignore_errors=True)
    echo(f"{len(written)} JSONL shard(s): {output_prefix}-*.jsonl")
    return written
