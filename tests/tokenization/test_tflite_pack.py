"""Packing uses only ops that TFLite has: a model of tf-text's TFLite-compatible
tokenizer plus `BertTokenizer.pack` converts with builtins + tf-text custom ops and runs in
the interpreter with the tf-text registrar, giving the TensorFlow result."""

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from tfbert.tokenization import BertTokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", ",", "a", "?",
         "question", "##s", "long", "sentence", "this", "is"]


def test_pack_runs_in_tflite():
    from tensorflow.lite.python.interpreter import InterpreterWithCustomOps

    tok = BertTokenizer(VOCAB)
    lite = tf_text.FastBertTokenizer(VOCAB, token_out_type=tf.int32,
                                     lower_case_nfd_strip_accents=True)

    class Packer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)] * 2)
        def pack(self, a, b):
            return tok.pack(lite.tokenize(a), lite.tokenize(b), max_length=12)

    module = Packer()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.pack.get_concrete_function()], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = True
    interpreter = InterpreterWithCustomOps(
        model_content=converter.convert(),
        custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS)
    runner = interpreter.get_signature_runner()
    for a, b in [("Hello, world! This is a long sentence, a long long sentence.", "Questions?"),
                 ("hello", "a question? a question? a question? a question?")]:
        got = runner(a=np.array([a]), b=np.array([b]))
        expected = module.pack(tf.constant([a]), tf.constant([b]))
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key].numpy(), err_msg=key)
