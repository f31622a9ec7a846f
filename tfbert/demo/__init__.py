"""`tfbert demo`: corpus to serving artifacts on built-in data (see `pipeline`)."""

from tfbert.demo.pipeline import Demo, run_demo
from tfbert.demo.recipes import CHINESE, ENGLISH, Recipe, recipe

__all__ = ["CHINESE", "ENGLISH", "Demo", "Recipe", "recipe", "run_demo"]
