import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPU devices, so MirroredStrategy has two replicas to test with. This must
# happen before TensorFlow initialises its devices, so here, at collection.
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)

from tfbert.config import BertConfig  # noqa: E402


@pytest.fixture(autouse=True)
def _float32_policy():
    """Every test starts and ends in float32, whatever a test set."""
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def tiny_config():
    """2 layers, hidden 32, 4 heads: small enough for milliseconds per call."""
    return BertConfig(vocab_size=97, hidden_size=32, num_layers=2, num_heads=4,
                      intermediate_size=64, max_position_embeddings=40)


@pytest.fixture
def make_inputs():
    """Random token ids with right padding: `make_inputs(batch, seq, vocab, seed)`."""

    def make(batch=3, seq=12, vocab=97, seed=0, pair=False):
        rng = np.random.default_rng(seed)
        lengths = rng.integers(min(2, seq), seq + 1, size=batch)
        lengths[0] = seq  # one row without padding
        padding_mask = (np.arange(seq)[None] < lengths[:, None]).astype("int32")
        token_ids = rng.integers(1, vocab, size=(batch, seq)).astype("int32") * padding_mask
        segment_ids = np.zeros((batch, seq), "int32")
        if pair:
            segment_ids = ((np.arange(seq)[None] >= lengths[:, None] // 2) * padding_mask)
            segment_ids = segment_ids.astype("int32")
        return {"token_ids": token_ids, "segment_ids": segment_ids,
                "padding_mask": padding_mask}

    return make


# The longest files, first. `make test` spreads whole files over two worker processes in
# collection order (pytest-xdist --dist loadfile --no-loadscope-reorder); a file of minutes
# that started last would leave one worker idle while the other finished it.
LONGEST_FIRST = ("tests/docs/test_snippets_heavy.py", "tests/docs/test_snippets.py",
                 "tests/demo/test_demo.py", "tests/demo/test_demo_english.py",
                 "tests/export/test_saved_model.py", "tests/cli/test_training_cli.py",
                 "tests/applications/test_text_classifier.py")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within and after those files is kept
