"""`tfbert finetune --task T --train F --out DIR (--init MODEL | --preset P --vocab V)`."""

import click

from tfbert.cli.training_options import settings_from, training_options
from tfbert.task import FINETUNE_TASKS, MAX_LENGTH, MIN_LENGTH, POOLINGS, WINDOW_POOLINGS
from tfbert.training.choices import FINETUNE_DEFAULTS


@click.command("finetune")
@click.option("--task", required=True, type=click.Choice(FINETUNE_TASKS))
@click.option("--train", required=True, type=click.Path(exists=True),
              help="classify/pair: .jsonl/.csv/.tsv; ner: CoNLL; qa: SQuAD JSON; or a "
                   "`tfbert features` directory, streamed (data larger than memory).")
@click.option("--dev", type=click.Path(exists=True, dir_okay=False),
              help="Scored each epoch; the best weights are kept.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="The model directory to write (re-run to resume).")
@click.option("--init", help="Start from this: a model directory, checkpoint or checkpoint "
              "name (see `tfbert presets`); tfbert, Hugging Face, Google or keras-hub.")
@click.option("--load-weights/--no-load-weights", default=True, show_default=True,
              help="--no-load-weights: --init's architecture, vocabulary and casing with "
                   "random weights (fine-tuning without pre-training, to compare).")
@click.option("--preset", help="Or a fresh model of this size (needs --vocab).")
@click.option("--vocab", type=click.Path(exists=True, dir_okay=False))
@click.option("--cased", is_flag=True, help="With --preset: keep case and accents.")
@click.option("--max-length", type=click.IntRange(MIN_LENGTH, MAX_LENGTH), default=None,
              help="Tokens per input [default: 128; qa: 384].")
@click.option("--text-column", default="text", show_default=True)
@click.option("--pair-column", default="pair", show_default=True)
@click.option("--label-column", default=None,
              help="[default: label; with --multi-label: labels]")
@click.option("--multi-label", is_flag=True,
              help="classify/pair: each example has a set of labels (maybe none), a JSON "
                   "list in .jsonl, labels joined by --label-separator in .csv/.tsv; sigmoid "
                   "head, each label's threshold chosen on --dev.")
@click.option("--label-separator", default="|", show_default=True,
              help="With --multi-label: what joins the labels of a CSV/TSV cell.")
@click.option("--calibrate/--no-calibrate", default=True, show_default=True,
              help="classify/pair with --dev: fit a temperature for the scores on dev and "
                   "keep it in task.json if it lowers dev ECE (every runtime applies it).")
@click.option("--doc-stride", type=click.IntRange(min=1), default=None,
              help="Long inputs become windows that start this many pieces apart: qa "
                   "contexts [default: 128]; ner sentences [default: half a window, so each "
                   "word is read where it has context on both sides]; classify/pair texts "
                   "(pair: the first text) when given [default: no windows, the first "
                   "--max-length pieces; half a window with --window-pooling].")
@click.option("--max-query-length", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--pooling", type=click.Choice(POOLINGS), default=None,
              help="classify/pair: the head reads the pooler over [CLS] (BERT's) or the "
                   "average of the non-padding positions [default: what --init declares "
                   "(sentence-transformers checkpoints such as all-MiniLM-L6-v2: mean), "
                   "else cls].")
@click.option("--class-weights", metavar="balanced|FILE", default=None,
              help="classify/pair: weigh each example's loss by its class: balanced "
                   "(n_examples / (n_classes x count), from TRAIN) or a JSON file "
                   "{label: weight} naming every label.")
@click.option("--focal-gamma", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="classify/pair: focal loss, (1 - p_t)^G x cross-entropy (0: plain "
                   "cross-entropy).")
@click.option("--layer-decay", type=float, default=1.0, show_default=True,
              help="Layer-wise learning-rate decay D in (0, 1] (ELECTRA's): the head learns "
                   "at --learning-rate, the encoder's top block at D^2 times it, each block "
                   "below at D times the one above, the embeddings at D^(layers+2); 1: off.")
@click.option("--window-pooling", type=click.Choice(WINDOW_POOLINGS), default=None,
              help="classify/pair: read long texts in --doc-stride windows, each a training "
                   "row with its text's label, and score a text by the mean or the max of "
                   "its windows' logits [default: mean when --doc-stride is given].")
@training_options
def command(task, train, dev, out, init, load_weights, preset, vocab, cased, max_length, text_column,
            pair_column, label_column, multi_label, label_separator, calibrate, doc_stride,
            max_query_length, pooling, class_weights, focal_gamma, layer_decay, window_pooling,
            **kwargs):
    """Fine-tune a task head on TRAIN and write a model directory to OUT."""
    from tfbert.training.finetune import FinetuneJob, finetune
    from tfbert.training.tasks import Columns

    settings = settings_from(kwargs, **FINETUNE_DEFAULTS)
    job = FinetuneJob(task=task, train=train, dev=dev, out=out, init=init,
                      load_weights=load_weights, preset=preset,
                      vocab=vocab, lowercase=not cased,
                      max_length=max_length,
                      columns=Columns(text_column, label_column, pair_column),
                      doc_stride=doc_stride,
                      max_query_length=max_query_length, pooling=pooling,
                      multi_label=multi_label, label_separator=label_separator,
                      calibrate=calibrate, class_weights=class_weights,
                      focal_gamma=focal_gamma, layer_decay=layer_decay,
                      window_pooling=window_pooling, strategy=kwargs.pop("strategy"),
                      settings=settings)
    result, metrics = finetune(job)
    summary = ""
    if metrics:
        summary = "; dev " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                                       if isinstance(v, float))
    click.echo(f"{result.step} steps{summary}; model directory: {out}")
