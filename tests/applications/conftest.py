"""A tiny pre-trained (masked-LM) model directory on a small Chinese + English vocabulary,
for the scoring tests."""

import keras
import pytest

from tfbert.config import BertConfig
from tfbert.model_dir import build_model, save_model_dir
from tfbert.task import TaskSpec

CHARS = "我爱北京天安门你好很的是了不在人有这中大来上国和地到们"
WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "##s", "run", "##ning", "."]


@pytest.fixture(scope="session")
def lm_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("scorer")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *CHARS, *WORDS])
                     + "\n", encoding="utf-8")
    config = BertConfig(vocab_size=5 + len(CHARS) + len(WORDS), hidden_size=32, num_layers=2,
                        num_heads=2, intermediate_size=64, max_position_embeddings=64,
                        initializer_range=0.5)
    keras.utils.set_random_seed(0)
    spec = TaskSpec(task="pretrain", max_length=32)
    path = str(root / "model")
    save_model_dir(build_model(config, spec), config, spec, path, str(vocab))
    return path
