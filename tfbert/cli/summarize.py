"""`tfbert summarize MODEL (--text T | --input FILE) [--output out.jsonl] --sentences K`."""

import json

import click


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
    from tfbert.applications.summarizer import Summarizer, read_documents, summarize_records
    from tfbert.atomic import write_jsonl

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
    write_jsonl(output, answers)
    click.echo(f"{len(records)} summaries: {output}", err=True)
