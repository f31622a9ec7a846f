"""`tfbert demo [--english]`: the whole product end to end on built-in data."""

import os

import click


@click.command("demo")
@click.option("--english", is_flag=True,
              help="Fine-tune the real MiniLM-L6 checkpoint on bbc-news instead of "
                   "pre-training a Chinese model for chnsenti.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Where every artifact goes [default: runs/demo, or runs/demo-en].")
@click.option("--pretrain-steps", type=click.IntRange(min=1),
              help="Chinese: pre-training steps [default: 1000].")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True),
              help="Fine-tuning epochs [default: 2].")
@click.option("--max-steps", "finetune_steps", type=click.IntRange(min=1),
              help="Fine-tuning (and English: distillation) steps (overrides --epochs; for "
                   "a quick try).")
def command(english, out_dir, pretrain_steps, epochs, finetune_steps):
    """Learn a vocabulary, pre-train a tiny BERT on zh-corpus (its held-out masked-LM
    curve drawn), fine-tune chnsenti, evaluate, measure what pre-training bought (the
    same encoder fine-tuned from random weights, and a TF-IDF anchor), draw the model's
    attention, export a SavedModel and an int8 TFLite file, and classify with all three
    (English: fine-tune MiniLM-L6 on bbc-news, and also distil it into a phone-sized
    student, trim its vocabulary and export it the same way). Re-running reuses the
    finished stages (recorded in OUT/demo.json)."""
    from tfbert.demo import recipe, run_demo

    chosen = recipe(english, pretrain_steps=pretrain_steps, epochs=epochs,
                    finetune_steps=finetune_steps,
                    student_steps=finetune_steps if english else None)
    out_dir = out_dir or ("runs/demo-en" if english else "runs/demo")
    results = run_demo(chosen, out_dir, echo=click.echo)
    base = os.path.abspath(os.path.join(out_dir, "savedmodels", chosen.name))
    lines = [f"\ndone in {results['seconds']:.0f} s; results: {out_dir}/results.md",
             f"attention of {chosen.sentences[0]}: {out_dir}/attention/attention.html "
             "(and .png)"]
    if chosen.corpus:
        lines.append(f"pre-training curve: {out_dir}/pretrained/pretraining_curve.png")
    lines += [f"serve it: docker run -p 8501:8501 -v {base}:/models/{chosen.name} "
              f"-e MODEL_NAME={chosen.name} tensorflow/serving:2.20.0",
              f"          curl -d '{{\"instances\": [{{\"text\": "
              f"\"{chosen.sentences[-1]}\"}}]}}' localhost:8501/v1/models/{chosen.name}:predict"]
    click.echo("\n".join(lines))
