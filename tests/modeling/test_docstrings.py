"""The examples in the public classes' docstrings run and print what they claim."""

import doctest

import numpy as np
import pytest

import tfbert.config
import tfbert.modeling.attention
import tfbert.modeling.classifier
import tfbert.modeling.distiller
import tfbert.modeling.embeddings
import tfbert.modeling.encoder
import tfbert.modeling.pretrainer
import tfbert.modeling.span_qa
import tfbert.modeling.token_classifier
import tfbert.modeling.transformer_block
from tfbert.config import BertConfig
from tfbert.modeling import BertClassifier, BertEncoder

MODULES = [tfbert.config, tfbert.modeling.attention, tfbert.modeling.classifier,
           tfbert.modeling.distiller, tfbert.modeling.embeddings, tfbert.modeling.encoder, tfbert.modeling.pretrainer,
           tfbert.modeling.span_qa, tfbert.modeling.token_classifier,
           tfbert.modeling.transformer_block]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, extraglobs={"np": np, "BertConfig": BertConfig,
                                                 "BertEncoder": BertEncoder,
                                                 "BertClassifier": BertClassifier})
    assert result.attempted > 0
    assert result.failed == 0
