"""In-graph text normalisation that reproduces Hugging Face's BERT normaliser.

tf-text's `FastBertTokenizer(lower_case_nfd_strip_accents=True)` folds compatibility
characters (NFKD: fullwidth `，` becomes `,`, `™` becomes `tm`) and treats control and
zero-width characters as word breaks; Hugging Face uses NFD and deletes those characters.
These regex and Unicode ops do what Hugging Face does, then `FastBertTokenizer` runs with
its own normalisation off. They have TF kernels (TF Serving, tf.data) but no TFLite ones.
"""

from __future__ import annotations

import re

import tensorflow as tf
import tensorflow_text as tf_text

from tfbert.tokenization.cjk import CJK_RANGES, is_cjk

# The ideographs as an RE2 character class (TensorFlow's regex ops).
_CJK = "".join(f"\\x{{{lo:X}}}-\\x{{{hi:X}}}" for lo, hi in CJK_RANGES)


# Hugging Face's punctuation: Unicode P* plus every ASCII symbol.
_PUNCT = r"\p{P}!-/:-@\[-`{-~"
# Whitespace: tab, newline, carriage return, space, line and paragraph separators.
_SPACE = r"[\t\n\r\p{Zs}\p{Zl}\p{Zp}]"
# Deleted, as Hugging Face deletes them: every other control, format (zero-width) and
# private-use character, NUL and the replacement character.
_DELETED = r"[\p{Cc}\p{Cf}\p{Co}\x{FFFD}]"
MAX_CHARS_PER_WORD = 100


def _fold(texts: tf.Tensor) -> tf.Tensor:
    """Lower case, canonical decomposition (NFD), then the combining marks (accents) dropped."""
    texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf_text.normalize_utf8(texts, "NFD")
    return tf.strings.regex_replace(texts, r"\p{Mn}", "")


def normalize(texts: tf.Tensor, lowercase: bool, unknown_char: str | None) -> tf.Tensor:
    """`texts`: a string tensor of any shape. Returns the same shape, normalised.

    A word longer than `MAX_CHARS_PER_WORD` characters becomes `unknown_char`, a
    character outside the vocabulary, so that it is one `[UNK]` as in Hugging Face
    (with `unknown_char=None`, as when learning a vocabulary, such words are dropped).
    """
    # Bytes that are not UTF-8 become the replacement character (deleted below), as a
    # Python caller's `bytes.decode(errors="replace")` would; regex ops would pass them on.
    texts = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace",
                                         replacement_char=0xFFFD)
    texts = tf.strings.regex_replace(texts, _SPACE, " ")
    texts = tf.strings.regex_replace(texts, _DELETED, "")
    # Each CJK ideograph is a word of its own.
    texts = tf.strings.regex_replace(texts, f"([{_CJK}])", r" \1 ")
    if lowercase:
        texts = _fold(texts)
    # Punctuation is a word of its own (FastBertTokenizer splits there too); then a run of
    # non-spaces is exactly one of Hugging Face's words. (One pattern with both the class
    # and the repetition exhausts RE2's DFA memory.)
    texts = tf.strings.regex_replace(texts, f"([{_PUNCT}])", r" \1 ")
    too_long = f"[^ ]{{{MAX_CHARS_PER_WORD + 1},}}"
    return tf.strings.regex_replace(texts, too_long, unknown_char or " ")


def normalize_characters(chars: tf.Tensor, lowercase: bool) -> tf.Tensor:
    """`normalize` applied to single characters (a string tensor of any shape, one
    character per element), minus the long-word rule, which needs whole words.

    Each output element is what its character becomes in the normalised text (possibly
    empty, or padded with spaces), so the normalised text is their concatenation and every
    normalised byte traces back to one original character.
    """
    chars = tf.strings.regex_replace(chars, f"^{_SPACE}$", " ")
    chars = tf.strings.regex_replace(chars, f"^{_DELETED}$", "")
    chars = tf.strings.regex_replace(chars, f"^([{_CJK}])$", r" \1 ")
    if lowercase:  # folded first, as in `normalize`: "≠" decomposes to "=" + a mark
        chars = _fold(chars)
    return tf.strings.regex_replace(chars, f"([{_PUNCT}])", r" \1 ")


_WORD = re.compile(r"\S+")


def split_words(text):
    """Words with character spans: whitespace-separated, and each CJK ideograph its own
    word (how BERT tokenizes Chinese, and how the per-character NER corpora are tagged)."""
    words = []
    for match in _WORD.finditer(text):
        piece, start, run = match.group(), match.start(), None
        for offset, char in enumerate(piece):
            if is_cjk(char):
                if run is not None:
                    words.append((piece[run:offset], start + run, start + offset))
                    run = None
                words.append((char, start + offset, start + offset + 1))
            elif run is None:
                run = offset
        if run is not None:
            words.append((piece[run:], start + run, start + len(piece)))
    return words
