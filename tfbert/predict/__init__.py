"""Prediction with any artifact tfbert makes: one interface (`Predictor`), one loader.

>>> from tfbert.predict import load_predictor
>>> predictor = load_predictor("savedmodels/bbc")          # doctest: +SKIP
>>> predictor.predict([{"text": "Shares rose 5%."}])[0]["label"]   # doctest: +SKIP
'business'
"""

from tfbert.predict.base import Predictor
from tfbert.predict.loader import is_exported, load_predictor, saved_model_dir

__all__ = ["KerasPredictor", "LitePredictor", "Predictor", "SavedModelPredictor", "is_exported",
           "load_predictor", "saved_model_dir"]

_HOMES = {"KerasPredictor": "keras_model", "SavedModelPredictor": "saved_model",
          "LitePredictor": "tflite"}


def __getattr__(name):
    # The runtimes import TensorFlow or LiteRT: loaded on first use.
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"tfbert.predict.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'tfbert.predict' has no attribute {name!r}")
