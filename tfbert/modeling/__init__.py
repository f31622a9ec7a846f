"""BERT layers and models, written against `keras` and `keras.ops` only (no tensorflow),
so the same code runs on the TensorFlow and JAX backends."""

from tfbert.modeling.attention import SelfAttention
from tfbert.modeling.classifier import BertClassifier
from tfbert.modeling.distiller import Distiller, uniform_layer_map
from tfbert.modeling.embeddings import BertEmbeddings
from tfbert.modeling.encoder import BertEncoder
from tfbert.modeling.masked_lm_head import MaskedLMHead
from tfbert.modeling.pretrainer import BertPretrainer
from tfbert.modeling.span_qa import BertSpanQA
from tfbert.modeling.token_classifier import BertTokenClassifier
from tfbert.modeling.transformer_block import TransformerBlock

__all__ = [
    "BertClassifier", "BertEmbeddings", "BertEncoder", "BertPretrainer", "BertSpanQA",
    "BertTokenClassifier", "Distiller", "MaskedLMHead", "SelfAttention", "TransformerBlock",
    "uniform_layer_map",
]
