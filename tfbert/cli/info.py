"""`tfbert info PATH`: config, parameters per part, vocabulary and task of a checkpoint."""

import json

import click


@click.command("info")
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(path, as_json):
    """Describe a checkpoint: config, task and sizes.

    PATH: a model directory, checkpoint or checkpoint name (see `tfbert presets`)."""
    from tfbert.convert.loader import describe

    info = describe(path)
    if as_json:
        click.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    task = info["task"]
    click.echo(f"path:        {info['path']}")
    click.echo(f"format:      {info['format']}")
    click.echo(f"task:        {task['task']}"
               + (f" ({len(task['labels'])} labels: {', '.join(task['labels'][:8])}"
                  + (" ..." if len(task["labels"]) > 8 else "") + ")" if task["labels"] else ""))
    config = info["config"]
    click.echo(f"architecture: {config['num_layers']} layers, hidden {config['hidden_size']}, "
               f"{config['num_heads']} heads, intermediate {config['intermediate_size']}, "
               f"{config['hidden_act']}, {config['max_position_embeddings']} positions")
    # What inputs are cut to (task.json) and what the encoder could take (its positions).
    click.echo(f"max length:  {task['max_length']} tokens per input "
               f"(the encoder has {config['max_position_embeddings']} positions)")
    click.echo(f"vocabulary:  {info['vocab_size'] or 'no vocab.txt'}"
               f" (embedding rows {config['vocab_size']}, "
               f"{'lowercased' if task['lowercase'] else 'cased'})")
    click.echo("parameters:")
    for part, count in info["parameters"].items():
        click.echo(f"  {part:<12} {count:>13,}")
    if info["untrained"]:
        click.echo(f"untrained:   {', '.join(info['untrained'])}")
