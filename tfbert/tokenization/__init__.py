"""In-graph BERT tokenization (tf-text), identical in ids to Hugging Face's.

The tokenizer classes import TensorFlow, so they are loaded on first use: `casing` (what a
checkpoint's files declare) is read by the converters without it.
"""

import importlib

_HOMES = {"BertTokenizer": "bert_tokenizer", "load_tokenizer": "bert_tokenizer",
          "read_vocab": "bert_tokenizer", "BertTokenizerLayer": "layer"}

__all__ = ["BertTokenizer", "BertTokenizerLayer", "load_tokenizer", "read_vocab"]


def __getattr__(name):
    if name in _HOMES:
        return getattr(importlib.import_module(f"tfbert.tokenization.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'tfbert.tokenization' has no attribute {name!r}")
