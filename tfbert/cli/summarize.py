"""`tfbert summarize MODEL (--text T | --input FILE) [--output out.jsonl] --sentences K`."""

import json

import click

CHUNK = 64  # documents summarised (their sentences embedded) together


def read_documents(path, text_column: str = "text") -> list:
    """The records of `path`: a `.txt` file is one document (`[{"text": content}]`), a
    `.jsonl` file one JSON object per line with a `text_column` string. A one-line
    `ValueError` names the file and line of anything else."""
    from tfbert import textfile

    lower = str(path).lower()
    if lower.endswith(".txt"):
        text = textfile.read_text(path)
        if not text.strip():
            raise ValueError(f"{path}: holds no text; expected a document")
        return [{text_column: text}]
    if not lower.endswith(".jsonl"):
        raise click.BadParameter(f"expected a .txt file (one document) or .jsonl (one "
                                 f"document per line). Received: {path}",
                                 param_hint="--input")
    records = []
    for number, line in enumerate(textfile.lines(path), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: line {number}: not JSON ({err.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get(text_column), str):
            raise ValueError(f"{path}: line {number}: expected a JSON object with a string "
                             f"{text_column!r} field (--text-column)")
        if not record[text_column].strip():
            raise ValueError(f"{path}: line {number}: the {text_column!r} field is empty")
        records.append(record)
    if not records:
        raise ValueError(f"{path}: holds no document")
    return records


def summarize_records(summarizer, records, text_column, sentences, diversity):
    """Yields one answer per record: its other keys, then `summary` and `sentences`."""
    for start in range(0, len(records), CHUNK):
        chunk = records[start:start + CHUNK]
        answers = summarizer([r[text_column] for r in chunk], sentences=sentences,
                             diversity=diversity)
        for record, answer in zip(chunk, answers):
            yield {**{k: v for k, v in record.items() if k != text_column}, **answer}


@click.command("summarize")
@click.argument("model")
@click.option("--text", help="One document to summarise.")
@click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False),
              help=".txt (the whole file is one document) or .jsonl (one document per line, "
                   "in the --text-column field; the answer keeps the line's other keys).")
@click.option("--output", type=click.Path(dir_okay=False),
              help="JSONL out, one line per document, written when complete "
                   "[default: stdout].")
@click.option("--sentences", type=click.IntRange(min=1), default=3, show_default=True,
              help="Sentences per summary (a shorter document is returned whole).")
@click.option("--diversity", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="0: the sentences closest to the document's centroid; towards 1: "
                   "penalise sentences similar to those already picked (MMR).")
@click.option("--text-column", default="text", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--max-length", type=int,
              help="Word pieces read per sentence [default: the model's].")
def command(model, text, input_path, output, sentences, diversity, text_column, batch_size,
            max_length):
    """Extractive summary of each document: its most representative sentences, in order.

    MODEL: a model directory of any task (its encoder is used), a checkpoint directory or
    a checkpoint name such as all-MiniLM-L6-v2 (see `tfbert presets`)."""
    from tfbert.applications.summarizer import Summarizer
    from tfbert.atomic import atomic_file

    if (text is None) == (input_path is None):
        raise click.BadParameter("give --text or --input (one of them)")
    if text is not None and not text.strip():
        raise click.BadParameter("is empty; expected a document", param_hint="--text")
    records = ([{text_column: text}] if input_path is None
               else read_documents(input_path, text_column))
    summarizer = Summarizer.from_pretrained(model, batch_size=batch_size,
                                            max_length=max_length)
    answers = summarize_records(summarizer, records, text_column, sentences, diversity)
    if output is None:
        for answer in answers:
            click.echo(json.dumps(answer, ensure_ascii=False))
        return
    with atomic_file(output) as staging:
        with open(staging, "w", encoding="utf-8") as f:
            for answer in answers:
                f.write(json.dumps(answer, ensure_ascii=False) + "\n")
    click.echo(f"{len(records)} summaries: {output}", err=True)
