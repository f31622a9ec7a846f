"""Ready-made models that take raw strings: `TextClassifier` (a Keras model),
`SentenceScorer` (masked-LM scoring) and `Summarizer` (extractive summaries).

Imported on first use (TensorFlow): `tfbert.TextClassifier` is the same class, and so on.
"""

__all__ = ["SentenceScorer", "Summarizer", "TextClassifier"]

_MODULES = {"SentenceScorer": "sentence_scorer", "Summarizer": "summarizer",
            "TextClassifier": "text_classifier"}


def __getattr__(name):
    if name in _MODULES:
        import importlib

        return getattr(importlib.import_module(f"tfbert.applications.{_MODULES[name]}"), name)
    raise AttributeError(f"module 'tfbert.applications' has no attribute {name!r}")
