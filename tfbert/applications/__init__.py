"""Ready-made Keras models that take raw strings (`TextClassifier`).

Imported on first use (TensorFlow): `tfbert.TextClassifier` is the same class.
"""

__all__ = ["TextClassifier"]


def __getattr__(name):
    if name == "TextClassifier":
        from tfbert.applications.text_classifier import TextClassifier

        return TextClassifier
    raise AttributeError(f"module 'tfbert.applications' has no attribute {name!r}")
