"""tfbert: BERT as a Keras 3 / TensorFlow application.

>>> import tfbert
>>> classify = tfbert.predictor("runs/bbc")                    # doctest: +SKIP
>>> classify("Shares rose 5% after the results.")["label"]     # doctest: +SKIP
'business'

Every public name is listed in `__all__` and importable from here. `import tfbert` does not
load TensorFlow: the names that need it import it on first use, quietly (its start-up notes
are held back and shown only if the import fails; its C++ log level becomes 3 unless
`TF_CPP_MIN_LOG_LEVEL` is set, and 0 shows everything).
"""

from tfbert.config import BertConfig
from tfbert.registry import checkpoint_path, presets

__version__ = "0.1.0"
__all__ = ["AttentionViewer", "BertConfig", "FinetuneResult", "Predictor", "SentenceScorer", "Summarizer",
           "TextClassifier", "__version__",
           "checkpoint_path", "distill", "evaluate", "export_saved_model", "export_tflite",
           "finetune", "load", "load_tokenizer", "predictor", "presets", "pretrain",
           "trim_vocab"]

# name -> module it lives in; imported (with TensorFlow, quietly) on first use.
_LAZY = {
    "AttentionViewer": "tfbert.applications.attention",
    "FinetuneResult": "tfbert.jobs",
    "Predictor": "tfbert.predict.base",
    "SentenceScorer": "tfbert.applications.sentence_scorer",
    "Summarizer": "tfbert.applications.summarizer",
    "TextClassifier": "tfbert.applications.text_classifier",
    "distill": "tfbert.jobs",
    "evaluate": "tfbert.jobs",
    "export_saved_model": "tfbert.export.saved_model",
    "export_tflite": "tfbert.export.tflite",
    "finetune": "tfbert.jobs",
    "pretrain": "tfbert.jobs",
    "trim_vocab": "tfbert.jobs",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        _quiet_tensorflow()
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfbert' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def _quiet_tensorflow():
    from tfbert.quiet import import_tensorflow

    import_tensorflow()


def load(path, task=None):
    """Loads any supported BERT checkpoint (a directory or a checkpoint name such as
    `all-MiniLM-L6-v2`) as a Keras model: see `tfbert.convert.loader.load`."""
    _quiet_tensorflow()
    from tfbert.convert.loader import load as _load

    return _load(path, task=task)


def load_tokenizer(path):
    """The `tfbert.tokenization.BertTokenizer` for a `vocab.txt`, a model directory or a
    checkpoint name, with the casing the directory declares."""
    _quiet_tensorflow()
    from tfbert.tokenization import load_tokenizer as _load_tokenizer

    return _load_tokenizer(checkpoint_path(path, "path"))


def predictor(name_or_path, batch_size=32, top_k=None, doc_stride=None, n_best=None):
    """Text in, answers out: the `Predictor` for any artifact tfbert makes or reads — a
    model directory, a checkpoint directory or name (`all-MiniLM-L6-v2` gives embeddings),
    a SavedModel (or TF Serving base directory) or a `.tflite` file.

    Call it on a string, a `(text, pair)` tuple (pair models), a `{"question", "context"}`
    dict (qa) or a list of them; it answers with the dicts `tfbert predict` writes
    (`n_best`: qa answers list that many best spans, as `tfbert predict --n-best`).

    Example:
    >>> embed = tfbert.predictor("all-MiniLM-L6-v2")               # doctest: +SKIP
    >>> len(embed("A sentence to embed.")["embedding"])           # doctest: +SKIP
    384
    """
    _quiet_tensorflow()
    from tfbert.jobs import python_names
    from tfbert.predict.loader import load_predictor

    try:
        return load_predictor(name_or_path, batch_size=batch_size, top_k=top_k,
                              doc_stride=doc_stride, parameter="name_or_path", n_best=n_best)
    except ValueError as err:
        raise ValueError(python_names(str(err), {"top_k", "doc_stride", "n_best"})) from None
