"""`tfbert score MODEL (--text T... | --input FILE) [--per-token] [--nbest ...]`."""

import functools
import json

import click


@click.command("score")
@click.argument("model")
@click.option("--text", "texts", multiple=True, help="A sentence to score (repeatable).")
@click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False),
              help="Sentences: .txt (one per line) or .jsonl/.csv/.tsv with a text column. "
                   "With --nbest: .jsonl n-best lists.")
@click.option("--output", type=click.Path(dir_okay=False),
              help="JSONL out, one line per sentence (per list with --nbest), written whole "
                   "at the end [default: stdout].")
@click.option("--per-token", is_flag=True,
              help="Also list every word piece with its character span and log-probability "
                   "(the least likely piece is the likeliest typo).")
@click.option("--nbest", is_flag=True,
              help='--input holds n-best lists, {"id", "hypotheses": [{"text", "score"}]} '
                   "per line: each is written re-ranked by score + weight * PLL.")
@click.option("--weight", type=float,
              help="--nbest: the PLL's weight against the hypotheses' scores [default: 1.0].")
@click.option("--tune-on", type=click.Path(exists=True, dir_okay=False),
              help='--nbest: pick the weight with the lowest error rate on these lists, '
                   'each with its "reference" text (.jsonl).')
@click.option("--text-column", default="text", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True,
              help="Masked copies run at a time (a sentence of n pieces makes n).")
@click.option("--max-length", type=int,
              help="Window, in pieces with [CLS] and [SEP]; longer sentences are read in "
                   "windows centred on each piece [default: the model's].")
def command(model, texts, input_path, output, per_token, nbest, weight, tune_on, text_column,
            batch_size, max_length):
    """Score sentences with MODEL's masked-LM head: each sentence's pseudo-log-likelihood
    (`pll`, the log-probability of every piece with that piece masked, summed; higher is
    more natural), `num_pieces` and `pseudo_perplexity`.

    MODEL: a `tfbert pretrain` model directory, or a checkpoint (or its name) that kept
    its masked-LM head."""
    from tfbert.applications.sentence_scorer import SentenceScorer

    if not nbest and (weight is not None or tune_on):
        raise click.BadParameter("--weight and --tune-on apply to --nbest lists")
    if nbest and (texts or per_token):
        raise click.BadParameter("--nbest reads lists from --input (no --text, no --per-token)")
    if weight is not None and tune_on:
        raise click.BadParameter("give --weight or --tune-on, not both")
    if texts and input_path:
        raise click.BadParameter("give --text or --input, not both")
    if not texts and not input_path:
        raise click.BadParameter("give --text or --input")
    note = functools.partial(click.echo, err=True)
    if nbest:
        from tfbert.applications.rescoring import read_nbest, rescore

        lists = read_nbest(input_path)
        tune = read_nbest(tune_on, need_reference=True) if tune_on else None
        scorer = SentenceScorer.from_pretrained(model, batch_size=batch_size,
                                                max_length=max_length)
        rows, report = rescore(scorer, lists, weight, tune, progress=output is not None)
        if "tuned" in report:
            tuned = report["tuned"]
            note(f"--tune-on {tune_on}: weight {tuned['weight']:.4g} "
                 f"({tuned['lists']} lists; error rate {tuned['before']['error_rate']:.2%} -> "
                 f"{tuned['error_rate']:.2%}, reference first {tuned['before']['first']:.2%} "
                 f"-> {tuned['first']:.2%})")
        if "after" in report:
            before, after = report["before"], report["after"]
            note(f"{input_path}: error rate {before['error_rate']:.2%} -> "
                 f"{after['error_rate']:.2%}, reference first {before['first']:.2%} -> "
                 f"{after['first']:.2%} (weight {report['weight']:.4g})")
    else:
        from tfbert.predict.inputs import input_records

        records = ([{"text": t} for t in texts] if texts
                   else [r for _, r in input_records(input_path, "score", text_column)])
        scorer = SentenceScorer.from_pretrained(model, batch_size=batch_size,
                                                max_length=max_length)
        answers = scorer.score([r["text"] for r in records], per_token,
                               progress=output is not None)
        rows = [{**r, **a} for r, a in zip(records, answers)]
        pieces = sum(a["num_pieces"] for a in answers)
        if pieces:
            import math

            total = sum(a["pll"] for a in answers)
            note(f"{len(rows)} sentences, {pieces} pieces: PLL {total:.2f}, "
                 f"pseudo-perplexity {math.exp(-total / pieces):.2f}")
    _write(rows, output)
    if output:
        what = "list" if nbest else "sentence"
        note(f"{len(rows)} {what}{'s' if len(rows) != 1 else ''}: {output}")


def _write(rows, output):
    if output is None:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    from tfbert.atomic import write_jsonl

    write_jsonl(output, rows)
