"""In-graph BERT tokenization (tf-text), identical in ids to Hugging Face's."""

from tfbert.tokenization.bert_tokenizer import BertTokenizer, load_tokenizer, read_vocab
from tfbert.tokenization.layer import BertTokenizerLayer

__all__ = ["BertTokenizer", "BertTokenizerLayer", "load_tokenizer", "read_vocab"]
