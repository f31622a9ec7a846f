"""`tfbert predict MODEL (--text T... | --input FILE) [--output out.jsonl]`."""

import json
import os
import sys

import click

from tfbert.task.decoding import DEFAULT_TOP_K


def _records(texts, pair, context, input_path, task, columns):
    if texts and input_path:
        raise click.BadParameter("give --text or --input, not both")
    if context is not None and task != "qa":
        raise click.BadParameter(f"--context is for qa models; this model's task is {task!r}")
    if pair is not None and task != "pair":
        raise click.BadParameter(f"--pair is for pair models; this model's task is {task!r}")
    if texts:
        if task == "qa":
            if not context:
                raise click.BadParameter("a qa model needs --context with --text questions")
            return [{"question": t, "context": context} for t in texts]
        return [{"text": t, **({"pair": pair} if pair is not None else {})} for t in texts]
    if not input_path:
        raise click.BadParameter("give --text or --input")
    from tfbert.data.readers import records as file_records, table_format

    ext = os.path.splitext(input_path)[1].lower().lstrip(".")
    fmt = table_format(input_path)
    if fmt is None:
        if ext != "txt" or task == "qa":
            raise ValueError(f"{input_path}: unknown format {ext!r}; expected .jsonl, .csv, "
                             ".tsv" + ("" if task == "qa" else " or .txt (one text per line)")
                             + (" with question and context columns" if task == "qa" else ""))
        from tfbert.textfile import lines

        return [{"text": line.rstrip("\n").rstrip("\r")} for line in lines(input_path)
                if line.strip()]
    wanted = ("question", "context") if task == "qa" else (columns[0],)
    records = []
    for number, row in file_records(input_path, fmt):
        missing = [c for c in wanted if not isinstance(row.get(c), str)]
        if missing:
            raise ValueError(f"{input_path}: line {number}: no text column {missing[0]!r}")
        if task != "qa":
            row = {**row, "text": row[columns[0]]}
            if columns[1] in row:
                row["pair"] = row[columns[1]]
        records.append(row)
    return records


@click.command("predict")
@click.argument("model")
@click.option("--text", "texts", multiple=True, help="An input text (repeatable).")
@click.option("--pair", help="With --text on a pair model: the second text.")
@click.option("--context", help="With --text on a qa model: the passage the questions ask about.")
@click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False),
              help=".jsonl/.csv/.tsv with a text column (qa: question and context), or .txt.")
@click.option("--output", type=click.Path(dir_okay=False), help="JSONL out (default: stdout).")
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
def command(model, texts, pair, context, input_path, output, text_column, pair_column,
            batch_size, top_k, doc_stride, n_best):
    """Predict with MODEL: one JSON object per input.

    MODEL: a model directory, checkpoint or checkpoint name (see `tfbert presets`), a
    SavedModel (or a TF Serving base directory: its newest version) or a .tflite export."""
    from tfbert.atomic import atomic_file
    from tfbert.predict import load_predictor

    source = click.get_current_context().get_parameter_source
    given_top_k = top_k if source("top_k").name == "COMMANDLINE" else None
    predictor = load_predictor(model, batch_size=batch_size, top_k=given_top_k,
                               doc_stride=doc_stride, parameter="MODEL", n_best=n_best)
    records = _records(list(texts), pair, context, input_path, predictor.task,
                       (text_column, pair_column))
    results = predictor.predict(records)
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in results]
    if output:
        with atomic_file(output) as staging:
            with open(staging, "w", encoding="utf-8") as f:
                f.writelines(lines)
        click.echo(f"{len(lines)} predictions: {output}", err=True)
    else:
        sys.stdout.writelines(lines)
