"""tfbert: BERT as a Keras 3 / TensorFlow application.

>>> import tfbert
>>> encoder = tfbert.load("path/to/checkpoint")        # doctest: +SKIP
"""

from tfbert.config import BertConfig
from tfbert.convert.loader import load

__version__ = "0.1.0"
__all__ = ["BertConfig", "load", "__version__"]
