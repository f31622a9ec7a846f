"""Ready-made models that take raw strings: `TextClassifier` (a Keras model),
`SentenceScorer` (masked-LM scoring), `Summarizer` (extractive summaries) and
`AttentionViewer` (every layer's and head's attention, drawn).

Imported on first use (TensorFlow): `tfbert.TextClassifier` is the same class, and so on.
"""

__all__ = ["AttentionViewer", "SentenceScorer", "Summarizer", "TextClassifier"]

_MODULES = {"AttentionViewer": "attention", "SentenceScorer": "sentence_scorer", "Summarizer": "summarizer",
            "TextClassifier": "text_classifier"}


def __getattr__(name):
    if name in _MODULES:
        import importlib

        return getattr(importlib.import_module(f"tfbert.applications.{_MODULES[name]}"), name)
    raise AttributeError(f"module 'tfbert.applications' has no attribute {name!r}")
