"""Checkpoint interop: Google TF1, Hugging Face safetensors, keras-hub presets, tfbert."""

from tfbert.convert.checkpoint import Checkpoint
from tfbert.convert.loader import convert, describe, detect_format, load, read_checkpoint

__all__ = ["Checkpoint", "convert", "describe", "detect_format", "load", "read_checkpoint"]
