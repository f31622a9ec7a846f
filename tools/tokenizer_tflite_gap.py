"""How far the TFLite-compatible tokenizer is from tfbert's (Hugging Face-identical) one.

TFLite has kernels for tf-text's FastBertNormalize/FastWordpieceTokenize but not for the
regex and Unicode-normalisation ops tfbert's exact normaliser uses, so an in-model TFLite
tokenizer must use `FastBertTokenizer(lower_case_nfd_strip_accents=True)` (NFKD folding,
control characters as word breaks). This measures, on a dataset's test split, the share of
texts whose ids differ and the share of differing ids (position by position, up to the
shorter length, plus any length difference).

    .venv/bin/python tools/tokenizer_tflite_gap.py --dataset chnsenti --vocab VOCAB
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
import tensorflow_text as tf_text  # noqa: E402

from tfbert.data import builtin  # noqa: E402
from tfbert.tokenization import BertTokenizer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="chnsenti")
    parser.add_argument("--vocab", required=True)
    parser.add_argument("--cased", action="store_true")
    args = parser.parse_args()
    splits, _, _ = builtin.load_classification(args.dataset)
    texts = [t for t, _ in splits["test"]]
    ours = BertTokenizer.from_file(args.vocab, lowercase=not args.cased)
    lite = tf_text.FastBertTokenizer(ours.vocab, token_out_type=tf.int32,
                                     lower_case_nfd_strip_accents=not args.cased)
    a = ours.tokenize(tf.constant(texts)).to_list()
    b = lite.tokenize(tf.constant(texts)).to_list()
    texts_differing = sum(x != y for x, y in zip(a, b))
    ids_total = sum(len(x) for x in a)
    ids_differing = sum(sum(p != q for p, q in zip(x, y)) + abs(len(x) - len(y))
                        for x, y in zip(a, b))
    print(f"{args.dataset} test split: {len(texts)} texts, {ids_total} ids; texts with any "
          f"difference: {texts_differing} ({100 * texts_differing / len(texts):.2f} %); "
          f"differing ids: {ids_differing} ({100 * ids_differing / ids_total:.3f} %)")
    shown = 0
    for text, x, y in zip(texts, a, b):
        if x != y and shown < 5:
            shown += 1
            print("  ", repr(text[:60]))


if __name__ == "__main__":
    main()
