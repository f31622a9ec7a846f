"""`tfbert distill --teacher MODEL --train F --out DIR [--student NAME | --student-layers K |
--student-init MODEL]`."""

import click

from tfbert.cli.training_options import settings_from, training_options
from tfbert.task import MAX_LENGTH, MIN_LENGTH
from tfbert.training.choices import DISTILL_DEFAULTS


@click.command("distill")
@click.option("--teacher", required=True,
              help="A fine-tuned classify, pair or ner model (directory or checkpoint).")
@click.option("--train", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The teacher's task format: classify/pair .jsonl/.csv/.tsv, ner CoNLL.")
@click.option("--dev", type=click.Path(exists=True, dir_okay=False),
              help="Scored each epoch; the best student weights are kept.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="The student's model directory (re-run to resume).")
@click.option("--unlabeled", type=click.Path(exists=True, dir_okay=False),
              help="Raw texts the teacher labels for the student: .txt one per line "
                   "(ner: one sentence per line, words split on spaces), or "
                   ".jsonl/.csv/.tsv with the text (and pair) columns.")
@click.option("--student", help="A fresh student of this architecture: tiny, mini, small, "
              "... or L<layers>-H<hidden> (e.g. L4-H128).")
@click.option("--student-layers", type=click.IntRange(min=1),
              help="Or the teacher cut to this many layers (every n-th teacher layer) "
                   "[default: half the teacher's].")
@click.option("--student-init", help="Or start from this checkpoint (it must have the "
              "teacher's vocabulary).")
@click.option("--embedding-init/--no-embedding-init", default=True, show_default=True,
              help="With --student: start from the teacher's embeddings (projected onto "
                   "their principal directions when the student is narrower).")
@click.option("--max-length", type=click.IntRange(MIN_LENGTH, MAX_LENGTH), default=None,
              help="Tokens per input [default: the teacher's].")
@click.option("--temperature", type=float, default=2.0, show_default=True,
              help="Softens teacher and student outputs in the soft term.")
@click.option("--soft-weight", type=float, default=1.0, show_default=True,
              help="Weight of matching the teacher's softened outputs.")
@click.option("--hard-weight", type=float, default=1.0, show_default=True,
              help="Weight of the gold labels' cross-entropy.")
@click.option("--hidden-weight", type=float, default=0.0, show_default=True,
              help="Weight of matching the teacher's hidden states, layer by mapped layer "
                   "(through a learned projection when the widths differ).")
@click.option("--attention-weight", type=float, default=0.0, show_default=True,
              help="Weight of matching the teacher's attention distributions.")
@click.option("--text-column", default="text", show_default=True)
@click.option("--pair-column", default="pair", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@training_options
def command(teacher, train, dev, out, unlabeled, student, student_layers, student_init,
            embedding_init, max_length, temperature, soft_weight, hard_weight, hidden_weight,
            attention_weight, text_column, pair_column, label_column, **kwargs):
    """Distil TEACHER into a smaller student and write its model directory to OUT."""
    from tfbert.training.distill import DistillJob, distill
    from tfbert.training.distill_loss import DistillWeights
    from tfbert.training.tasks import Columns

    settings = settings_from(kwargs, **DISTILL_DEFAULTS)
    weights = DistillWeights(temperature=temperature, soft=soft_weight, hard=hard_weight,
                             hidden=hidden_weight, attention=attention_weight)
    job = DistillJob(teacher=teacher, train=train, out=out, dev=dev, unlabeled=unlabeled,
                     student=student, student_layers=student_layers,
                     student_init=student_init, embedding_init=embedding_init,
                     max_length=max_length, columns=Columns(text_column, label_column,
                                                            pair_column),
                     weights=weights, strategy=kwargs.pop("strategy"), settings=settings)
    result, report = distill(job)
    summary = ""
    if report.get("dev"):
        d = report["dev"]
        summary = (f"; dev {d['metric']} {d['student']:.4f} (teacher {d['teacher']:.4f}, "
                   f"agreement {d['agreement']:.2%})")
    click.echo(f"{result.step} steps{summary}; model directory: {out}")
