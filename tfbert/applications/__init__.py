"""Ready-made models that take raw strings (`TextClassifier`, `Summarizer`).

Imported on first use (TensorFlow): `tfbert.TextClassifier` is the same class.
"""

__all__ = ["Summarizer", "TextClassifier"]


def __getattr__(name):
    if name == "TextClassifier":
        from tfbert.applications.text_classifier import TextClassifier

        return TextClassifier
    if name == "Summarizer":
        from tfbert.applications.summarizer import Summarizer

        return Summarizer
    raise AttributeError(f"module 'tfbert.applications' has no attribute {name!r}")
