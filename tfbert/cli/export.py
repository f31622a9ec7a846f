"""`tfbert export MODEL --format saved_model|tflite ...`."""

import json

import click

from tfbert.export.limits import MIN_CALIBRATION
from tfbert.task.decoding import DEFAULT_N_BEST, DEFAULT_TOP_K


@click.command("export")
@click.argument("model")
@click.option("--format", "fmt", required=True, type=click.Choice(("saved_model", "tflite")))
@click.option("--name", help="saved_model: the model's name under --base (TF Serving's "
              "model name).")
@click.option("--base", default="savedmodels", show_default=True,
              help="saved_model: TF Serving's --model_base_path parent; versions go to "
                   "BASE/NAME/<n>.")
@click.option("--serving-version", default=None,
              help="saved_model: the oldest TF Serving release to support (default 2.20); "
                   "an op it does not link fails the export.")
@click.option("--top-k", type=click.IntRange(min=1), default=DEFAULT_TOP_K, show_default=True,
              help="saved_model, pre-trained models: fill-mask candidates per [MASK].")
@click.option("--warmup-data", type=click.Path(exists=True, dir_okay=False),
              help="saved_model: requests TF Serving replays at load (.jsonl/.csv/.tsv with "
                   "the serving_default input columns, or .txt, one text per line) "
                   "[default: built-in texts for the task].")
@click.option("--n-best", type=click.IntRange(min=1), default=DEFAULT_N_BEST, show_default=True,
              help="qa models: answers listed per question (the nbest_* outputs), fixed in "
                   "the exported graph.")
@click.option("--xla", is_flag=True,
              help="saved_model: XLA-compile the model's call (faster on CPUs; TF Serving "
                   "then needs --xla_cpu_compilation_enabled, docs/serving.md).")
@click.option("--out", type=click.Path(dir_okay=False), help="tflite: the .tflite file.")
@click.option("--quantize", type=click.Choice(("none", "fp16", "dynamic", "int8")),
              default="none", show_default=True)
@click.option("--tokenizer", type=click.Choice(("metadata", "in-model")), default="in-model",
              show_default=True, help="tflite: id inputs with MediaPipe metadata, or raw "
              "strings with the tf-text tokenizer inside.")
@click.option("--calibration-data", type=click.Path(exists=True, dir_okay=False),
              help="tflite int8: training texts (.jsonl/.csv/.tsv, a text column).")
@click.option("--calibration-size", type=click.IntRange(min=MIN_CALIBRATION), default=200,
              show_default=True, help="tflite int8: how many --calibration-data texts "
              "(spread over the file) calibrate the quantization.")
@click.option("--eval-data", type=click.Path(exists=True, dir_okay=False),
              help="tflite: labelled dev/test data; writes FILE.quantization.{json,md} "
                   "scoring every variant.")
@click.option("--text-column", default="text", show_default=True)
@click.option("--pair-column", default="pair", show_default=True,
              help="Pair models: the second text's column in --eval-data.")
@click.option("--label-column", default="label", show_default=True)
@click.pass_context
def command(ctx, model, fmt, name, base, serving_version, top_k, warmup_data, n_best, xla, out,
            quantize, tokenizer, calibration_data, calibration_size, eval_data, text_column,
            pair_column, label_column):
    """Export MODEL for TF Serving or LiteRT / MediaPipe.

    MODEL: a model directory, checkpoint or checkpoint name (see `tfbert presets`)."""
    # An option of the other format is an error, not silently ignored.
    other = {"saved_model": ("out", "quantize", "tokenizer", "calibration_data",
                             "calibration_size", "eval_data"),
             "tflite": ("name", "base", "serving_version", "top_k", "warmup_data", "xla")}[fmt]
    given = [p for p in other if ctx.get_parameter_source(p).name == "COMMANDLINE"]
    if given:
        option = "--" + given[0].replace("_", "-")
        raise click.BadParameter(f"{option} does not apply to --format {fmt}")
    from tfbert.registry import checkpoint_path

    model = checkpoint_path(model, "MODEL")   # a checkpoint name becomes its directory
    if fmt == "saved_model":
        from tfbert.export.saved_model import DEFAULT_SERVING_VERSION, export_saved_model

        if not name:
            raise click.BadParameter("--format saved_model needs --name")
        path = export_saved_model(model, name, base, serving_version or DEFAULT_SERVING_VERSION,
                                  top_k=top_k, warmup_data=warmup_data, n_best=n_best,
                                  xla=xla)
        click.echo(path)
        return
    if not out:
        raise click.BadParameter("--format tflite needs --out FILE.tflite")
    from tfbert.data.readers import read_records
    from tfbert.export.tflite import export_tflite

    calibration = read_records(calibration_data, text_column) if calibration_data else None
    evaluation = None
    if eval_data:
        from tfbert.model_dir import is_model_dir
        from tfbert.task import read_task_spec

        # (A directory without task.json is reported by the export itself.)
        is_pair = is_model_dir(model) and read_task_spec(model).task == "pair"
        pair = pair_column if is_pair else None
        evaluation = read_records(eval_data, text_column, pair, label_column, need_labels=True)
    result = export_tflite(model, out, quantize, tokenizer, calibration, evaluation,
                           calibration_size, n_best=n_best)
    report = result.pop("report", None)
    click.echo(json.dumps(result, indent=2))
    if report:
        from tfbert.export.tflite_report import report_markdown

        click.echo(report_markdown(report), err=True)
