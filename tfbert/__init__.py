"""tfbert: BERT as a Keras 3 / TensorFlow application.

>>> import tfbert
>>> encoder = tfbert.load("path/to/checkpoint")        # doctest: +SKIP
"""

from tfbert.config import BertConfig
from tfbert.convert.loader import load

__version__ = "0.1.0"
__all__ = ["BertConfig", "load", "load_tokenizer", "__version__"]


def load_tokenizer(path):
    """The `tfbert.tokenization.BertTokenizer` for a `vocab.txt` or a model directory.

    Imported on first use, so that `import tfbert` does not load TensorFlow.
    """
    from tfbert.tokenization import load_tokenizer as _load_tokenizer

    return _load_tokenizer(path)
