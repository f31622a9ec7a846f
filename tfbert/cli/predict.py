"""`tfbert predict MODEL (--text T... | --input FILE) [--output out.jsonl]`."""

import functools

import click

from tfbert.cli.beam_options import beam_options, check_without_runner
from tfbert.cli.beam_options import pipeline_options as beam_pipeline_options
from tfbert.predict.stream import DEFAULT_CHUNK_SIZE
from tfbert.task.decoding import DEFAULT_TOP_K


def _text_records(texts, pair, context, input_path, task):
    """The records of `--text` (None with `--input`), after the checks on how they combine."""
    if texts and input_path:
        raise click.BadParameter("give --text or --input, not both")
    if context is not None and task != "qa":
        raise click.BadParameter(f"--context is for qa models; this model's task is {task!r}")
    if pair is not None and task != "pair":
        raise click.BadParameter(f"--pair is for pair models; this model's task is {task!r}")
    if input_path:
        return None
    if not texts:
        raise click.BadParameter("give --text or --input")
    if task == "qa":
        if not context:
            raise click.BadParameter("a qa model needs --context with --text questions")
        return [{"question": t, "context": context} for t in texts]
    return [{"text": t, **({"pair": pair} if pair is not None else {})} for t in texts]


@click.command("predict")
@click.argument("model")
@click.option("--text", "texts", multiple=True, help="An input text (repeatable).")
@click.option("--pair", help="With --text on a pair model: the second text.")
@click.option("--context", help="With --text on a qa model: the passage the questions ask about.")
@click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False),
              help=".jsonl/.csv/.tsv with a text column (qa: question and context), or .txt "
                   "(one text per line; a blank line gets an error record, so output line "
                   "i answers input line i).")
@click.option("--output", type=click.Path(dir_okay=False),
              help="JSONL out, one line per input record, written when complete; a killed "
                   "run resumes after its last complete chunk when run again unchanged "
                   "[default: stdout, chunk by chunk, no resume].")
@click.option("--chunk-size", type=click.IntRange(min=1), default=DEFAULT_CHUNK_SIZE,
              show_default=True,
              help="Input records read, answered and written at a time (memory is bounded "
                   "by it, not by the input's size).")
@click.option("--text-column", default="text", show_default=True)
@click.option("--pair-column", default="pair", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--top-k", type=click.IntRange(min=1), default=DEFAULT_TOP_K, show_default=True,
              help="Fill-mask: candidates per [MASK].")
@click.option("--doc-stride", type=click.IntRange(min=1),
              help="qa, ner and windowed classify/pair model directories: windows of a long "
                   "input start this many pieces apart [default: the model's task.json].")
@click.option("--n-best", type=click.IntRange(min=1),
              help="qa: also list the N best answer spans (`n_best`), each with its score "
                   "and probability; an export lists at most its own --n-best.")
@beam_options
def command(model, texts, pair, context, input_path, output, chunk_size, text_column,
            pair_column, batch_size, top_k, doc_stride, n_best, runner, num_workers,
            pipeline_options):
    """Predict with MODEL: one JSON object per input.

    MODEL: a model directory, checkpoint or checkpoint name (see `tfbert presets`), a
    SavedModel (or a TF Serving base directory: its newest version) or a .tflite export.

    With --runner: a Beam pipeline (RunInference) reads --input (.txt or .jsonl) in
    parallel and writes JSONL shards OUTPUT-SSSSS-of-NNNNN.jsonl, each answer with its
    input's `line` number."""
    from tfbert.predict import load_predictor
    from tfbert.predict.stream import predict_file, predict_records

    source = click.get_current_context().get_parameter_source
    given_top_k = top_k if source("top_k").name == "COMMANDLINE" else None
    if runner is None:
        check_without_runner(num_workers=num_workers, pipeline_options=pipeline_options)
    else:
        if not (input_path and output) or texts:
            raise click.BadParameter("--runner needs --input FILE and --output PREFIX (the "
                                     "JSONL shards' name), not --text")
        if source("chunk_size").name == "COMMANDLINE":
            raise click.BadParameter("--chunk-size is for prediction in this process; with "
                                     "--runner, Beam batches (--batch-size)")
        options = beam_pipeline_options(runner, num_workers, pipeline_options,
                                        "tfbert-predict")
    predictor = load_predictor(model, batch_size=batch_size, top_k=given_top_k,
                               doc_stride=doc_stride, parameter="MODEL", n_best=n_best)
    records = _text_records(list(texts), pair, context, input_path, predictor.task)
    note = functools.partial(click.echo, err=True)
    if runner is not None:
        from tfbert.predict.beam_predict import predict_on_beam

        # The workers load the model themselves; this process loaded it to check it and
        # learn its task before any worker starts.
        predict_on_beam(model, input_path, output, options, predictor.task,
                        batch_size=batch_size, text_column=text_column,
                        pair_column=pair_column, echo=note, top_k=given_top_k,
                        doc_stride=doc_stride, n_best=n_best)
        return
    if records is None:
        done = predict_file(predictor, input_path, output, chunk_size=chunk_size,
                            text_column=text_column, pair_column=pair_column, log=note)
    else:
        done = predict_records(predictor, records, output, chunk_size=chunk_size, log=note)
    if output:
        blank = f" ({done.empty} blank, answered with an error record)" if done.empty else ""
        note(f"{done.records} predictions{blank}: {output}")
