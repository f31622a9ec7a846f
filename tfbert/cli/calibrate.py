"""`tfbert calibrate MODEL DEV`: a fine-tuned classifier's score temperature (and multi-label
thresholds) fitted on labelled data, written into its task.json."""

import click

from tfbert.cli.training_options import labelled_data_options


@click.command("calibrate")
@click.argument("model", type=click.Path(exists=True, file_okay=False))
@click.argument("dev", type=click.Path(exists=True, dir_okay=False))
@labelled_data_options
@click.option("--thresholds-only", is_flag=True,
              help="Multi-label: choose the thresholds, leave the scores uncalibrated.")
def command(model, dev, text_column, pair_column, label_column, label_separator,
            thresholds_only):
    """Fit MODEL's score temperature on labelled DEV data and store it in its task.json.

    What `tfbert finetune --calibrate` does after training, for a model trained without
    it (or to refit on other data): the temperature that minimises DEV's log-loss, kept
    if it lowers DEV's expected calibration error; multi-label models also get each
    label's decision threshold. Every runtime exported afterwards applies them."""
    from tfbert.training.calibration import calibrate_model, calibration_note
    from tfbert.training.tasks import Columns

    result = calibrate_model(model, dev, Columns(text_column, label_column, pair_column),
                             label_separator, with_temperature=not thresholds_only)
    click.echo(f"{calibration_note(result)}; written to {model}/task.json")
