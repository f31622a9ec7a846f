"""`tfbert presets`: the checkpoint names and architecture sizes tfbert knows."""

import json

import click


@click.command("presets")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def command(as_json):
    """List checkpoint names (usable wherever a checkpoint path is) and architecture sizes
    (for --preset)."""
    from tfbert.registry import presets

    rows = presets()
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    click.echo("Checkpoints (give the name wherever a checkpoint path is taken):")
    for row in (r for r in rows if r["kind"] == "checkpoint"):
        if row["installed"]:
            sizes = (f"{row.get('num_layers')} layers, hidden {row.get('hidden_size')}, "
                     f"{row.get('num_heads')} heads, vocabulary {row.get('vocab_size')}")
            click.echo(f"  {row['name']:<18} {sizes}\n  {'':<18} {row['description']}\n"
                       f"  {'':<18} {row['path']}")
        else:
            click.echo(f"  {row['name']:<18} not installed: {row['install']}\n"
                       f"  {'':<18} {row['description']}")
    click.echo("Architecture sizes (--preset, distill --student; for models trained from "
               "scratch):")
    for row in (r for r in rows if r["kind"] == "architecture"):
        click.echo(f"  {row['name']:<18} {row['num_layers']:>2} layers, hidden "
                   f"{row['hidden_size']:>4}, {row['num_heads']:>2} heads, "
                   f"{row['block_parameters'] / 1e6:6.1f} M parameters in its blocks")
    click.echo(f"  {'L<layers>-H<hidden>':<18} any size of the compact-model grid (hidden a "
               "multiple of 64: heads of 64, intermediate 4 x hidden), e.g. L4-H128")
