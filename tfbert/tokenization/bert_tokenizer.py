"""`BertTokenizer`: WordPiece tokenization and `[CLS] a [SEP] b [SEP]` packing, in-graph."""

from __future__ import annotations

import os
import unicodedata

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from tfbert import textfile
from tfbert.quiet import native_notes_held
from tfbert.tokenization.casing import declared_lowercase
from tfbert.tokenization.normalize import MAX_CHARS_PER_WORD, normalize, normalize_characters

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def read_vocab(path) -> list[str]:
    """The tokens of a `vocab.txt`, one per line; checks the special tokens are there."""
    vocab = [line.rstrip("\n").rstrip("\r") for line in textfile.lines(path)]
    if not vocab:
        raise ValueError(f"{path}: empty vocabulary; expected one word piece per line")
    seen = {}
    for number, token in enumerate(vocab, 1):
        if token in seen:
            raise ValueError(f"{path}: line {number}: duplicate token {token!r} "
                             f"(first on line {seen[token]})")
        seen[token] = number
    missing = [t for t in ("[UNK]", "[CLS]", "[SEP]") if t not in seen]
    if missing:
        raise ValueError(f"{path}: missing special tokens {missing}; a BERT vocabulary "
                         f"needs {list(SPECIAL_TOKENS)}")
    check_word_pieces(vocab, path)
    return vocab


def _is_punctuation(char: str) -> bool:
    """BERT's punctuation (tf-text's and Hugging Face's): Unicode P* and every ASCII symbol."""
    code = ord(char)
    return 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126 \
        or unicodedata.category(char).startswith("P")


def check_word_pieces(vocab, source="the vocabulary") -> None:
    """Raises a `ValueError` naming `source` when no token of `vocab` is a word piece the
    tokenizer can produce. tf-text splits punctuation off before it looks pieces up, so
    only a lone punctuation character or a piece without any can match: a vocabulary of
    `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]`, `[unused…]` has none, and tf-text would
    fail with "No valid vocab tokens were found to build the trie"."""
    def word_piece(token):
        body = token[2:] if token.startswith("##") else token
        return len(token) == 1 or (body != "" and not any(map(_is_punctuation, body)))

    if not any(word_piece(token) for token in vocab):
        raise ValueError(f"{source}: holds only special tokens ({', '.join(vocab[:3])}"
                         f"{', …' if len(vocab) > 3 else ''}); expected a BERT vocabulary "
                         "with word pieces after them, one per line")


def _longest_first_counts(lengths, budget):
    """How many pieces each of one or two segments keeps so that they fit `budget` in
    all, the way Hugging Face's tokenizers trim ("longest_first"): only the longer is cut
    while that suffices, else each keeps half, the longer getting the odd piece (the second
    on a tie). `lengths`: one or two `(batch,)` int32 tensors."""
    budget = tf.constant(budget, tf.int32)
    if len(lengths) == 1:
        return [tf.minimum(lengths[0], budget)]
    a, b = lengths
    short = tf.minimum(a, b)
    keep_long = tf.where(short > budget, short, tf.maximum(short, budget - short))
    both = short + keep_long > budget
    keep_short = tf.where(both, budget // 2, short)
    keep_long = tf.minimum(tf.where(both, budget // 2 + budget % 2, keep_long), tf.maximum(a, b))
    swap = a > b
    return [tf.where(swap, keep_long, keep_short), tf.where(swap, keep_short, keep_long)]


class BertTokenizer(tf.Module):
    """The BERT tokenizer, identical in ids to Hugging Face's for the same vocabulary.

    Normalisation (control characters, CJK splitting, lower case and accent stripping when
    `lowercase`) runs as TF ops, then tf-text's `FastBertTokenizer` splits punctuation and
    finds word pieces; `pack` trims pairs longest-first and adds `[CLS]`/`[SEP]`. Every
    step is a TF op, so the same object works eagerly, in `tf.data` and in a SavedModel.

    Example:
    >>> tok = BertTokenizer.from_file("vocab.txt")                # doctest: +SKIP
    >>> tok(["Hello world!"], max_length=8)["token_ids"]          # doctest: +SKIP
    array([[ 101, 7592, 2088,  999,  102,    0,    0,    0]], dtype=int32)
    """

    def __init__(self, vocab: list[str], lowercase: bool = True, name=None):
        super().__init__(name=name)
        self.vocab = list(vocab)
        check_word_pieces(self.vocab)
        self.lowercase = bool(lowercase)
        index = {token: i for i, token in enumerate(self.vocab)}
        self.pad_id = index.get("[PAD]", 0)
        self.unk_id = index["[UNK]"]
        self.cls_id = index["[CLS]"]
        self.sep_id = index["[SEP]"]
        self.mask_id = index.get("[MASK]")
        with native_notes_held():   # tf-text logs "CharacterSet built" while building these
            self._wordpiece = tf_text.FastBertTokenizer(
                self.vocab, token_out_type=tf.int32, unknown_token="[UNK]",
                lower_case_nfd_strip_accents=False,
                # normalize() already turned words over the limit (in characters, as Hugging
                # Face counts) into one unknown character; tf-text counts bytes, up to 4 each.
                max_bytes_per_word=4 * MAX_CHARS_PER_WORD, support_detokenization=True)
            self._word_splitter = tf_text.WhitespaceTokenizer()
            self._word_pieces = tf_text.FastWordpieceTokenizer(
                self.vocab, token_out_type=tf.int32, unknown_token="[UNK]",
                no_pretokenization=True, max_bytes_per_word=4 * MAX_CHARS_PER_WORD)
        # A private-use character absent from the vocabulary always tokenizes to [UNK].
        self._unknown_char = next(chr(c) for c in range(0xE000, 0xF8FF)
                                  if chr(c) not in index and f"##{chr(c)}" not in index)

    @classmethod
    def from_file(cls, vocab_file, lowercase: bool = True) -> "BertTokenizer":
        return cls(read_vocab(vocab_file), lowercase=lowercase)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    # --- graph functions -------------------------------------------------------------

    def tokenize(self, texts) -> tf.RaggedTensor:
        """Word-piece ids, `(batch, (pieces))` int32, without special tokens."""
        texts = tf.convert_to_tensor(texts, tf.string)
        return self._wordpiece.tokenize(normalize(texts, self.lowercase, self._unknown_char))

    def tokenize_with_offsets(self, texts):
        """`(ids, starts, ends)`, each `(batch, (pieces))`: the `tokenize` ids and, for
        every piece, the half-open range of *characters* of the original text it covers
        (a `##` piece covers its part of the word; a word too long for the vocabulary is
        one `[UNK]` covering all of it).
        """
        texts = tf.convert_to_tensor(texts, tf.string)
        # (batch, (chars)): each character and what it becomes after normalisation; the
        # normalised text is their concatenation.
        chars = tf.strings.unicode_split(texts, "UTF-8")
        normalized = chars.with_flat_values(
            normalize_characters(chars.flat_values, self.lowercase))
        text = tf.strings.reduce_join(normalized, axis=1)
        # (batch, (chars)): the byte of `text` where each character's output ends.
        total = tf.math.cumsum(tf.cast(tf.strings.length(normalized.flat_values), tf.int64))
        before_row = tf.gather(tf.concat([[0], total], 0),
                               tf.gather(normalized.row_splits, normalized.value_rowids()))
        char_ends = normalized.with_flat_values(total - before_row)
        # Words (split at spaces), then pieces with byte offsets inside their word.
        words, word_starts, word_ends = self._word_splitter.tokenize_with_offsets(text)
        too_long = tf.strings.length(words, unit="UTF8_CHAR") > MAX_CHARS_PER_WORD
        words = tf.where(too_long, self._unknown_char, words)
        ids, piece_starts, piece_ends = self._word_pieces.tokenize_with_offsets(words)
        # Per piece (flat): its word's offsets, and whether the word was too long.
        word_of_piece = ids.values.value_rowids()
        word_start = tf.gather(tf.cast(word_starts.flat_values, tf.int64), word_of_piece)
        word_end = tf.gather(tf.cast(word_ends.flat_values, tf.int64), word_of_piece)
        starts = word_start + tf.cast(piece_starts.flat_values, tf.int64)
        ends = tf.where(tf.gather(too_long.flat_values, word_of_piece), word_end,
                        word_start + tf.cast(piece_ends.flat_values, tf.int64))
        ids = ids.merge_dims(1, 2)
        # A byte of `text` belongs to the first character whose output ends after it.
        dense_ends = char_ends.to_tensor(default_value=2 ** 62)

        def to_chars(byte_offsets):
            dense = ids.with_flat_values(byte_offsets).to_tensor(default_value=0)
            found = tf.searchsorted(dense_ends, dense, side="right")
            return tf.RaggedTensor.from_tensor(found, lengths=ids.row_lengths())

        return ids, to_chars(starts), to_chars(ends - 1) + 1

    def pack(self, first: tf.RaggedTensor, second: tf.RaggedTensor | None = None,
             max_length: int = 128, pad_to_max_length: bool = True) -> dict:
        """`[CLS] first [SEP] (second [SEP])`, trimmed longest-first to `max_length`.

        Returns int32 `token_ids`, `segment_ids`, `padding_mask` of shape
        `(batch, max_length)` (or the longest row, when `pad_to_max_length=False`).
        """
        segments = [first] if second is None else [first, second]
        return self.pack_dense(
            [(x.to_tensor(shape=[None, max_length]), x.row_lengths()) for x in segments],
            max_length, pad_to_max_length)

    def pack_dense(self, segments, max_length: int = 128, pad_to_max_length: bool = True):
        """`pack` for segments given as `(ids, lengths)`: `ids` `(batch, width)` padded,
        `lengths` `(batch,)`. Dense ops only (RaggedTensorToTensor, Gather, Select), which
        TFLite and TF Serving have kernels for; ragged slicing would not convert."""
        if max_length < len(segments) + 2:
            raise ValueError(f"max_length must leave room for the special tokens. "
                             f"Received: max_length={max_length}")
        keeps = _longest_first_counts([tf.cast(n, tf.int32) for _, n in segments],
                                      max_length - len(segments) - 1)
        # (batch, max_length) throughout.
        positions = tf.range(max_length, dtype=tf.int32)[None, :]
        token_ids = tf.where(positions == 0, self.cls_id, self.pad_id)
        segment_ids = tf.zeros_like(token_ids)
        cursor = tf.ones_like(keeps[0])[:, None]  # first free position, after [CLS]
        for index, ((ids, _), keep) in enumerate(zip(segments, keeps)):
            dense = tf.cast(ids, tf.int32)
            width = tf.shape(dense)[1]
            dense = tf.pad(dense, [[0, 0], [0, tf.maximum(max_length - width, 0)]])
            gathered = tf.gather(dense, tf.clip_by_value(positions - cursor, 0, max_length - 1),
                                 batch_dims=1)
            end = cursor + keep[:, None]  # where this segment's [SEP] goes
            token_ids = tf.where((positions >= cursor) & (positions < end), gathered, token_ids)
            token_ids = tf.where(positions == end, self.sep_id, token_ids)
            segment_ids = tf.where((positions >= cursor) & (positions <= end), index,
                                   segment_ids)
            cursor = end + 1
        padding_mask = tf.cast(positions < cursor, tf.int32)
        if not pad_to_max_length:
            width = tf.reduce_max(cursor)
            token_ids, segment_ids, padding_mask = (
                x[:, :width] for x in (token_ids, segment_ids, padding_mask))
        return {"token_ids": token_ids, "segment_ids": segment_ids,
                "padding_mask": padding_mask}

    def encode(self, texts, pairs=None, max_length: int = 128,
               pad_to_max_length: bool = True) -> dict:
        """Strings in, the encoder's three int32 tensors out (graph-safe)."""
        first = self.tokenize(texts)
        second = None if pairs is None else self.tokenize(pairs)
        return self.pack(first, second, max_length, pad_to_max_length)

    # --- Python conveniences -----------------------------------------------------------

    def __call__(self, texts, pairs=None, max_length: int = 128,
                 pad_to_max_length: bool = False) -> dict:
        """Numpy `token_ids`, `segment_ids`, `padding_mask` for a list of texts (and pairs).

        Rows are padded to the longest in the batch unless `pad_to_max_length`.
        """
        if isinstance(texts, str):
            texts = [texts]
        if isinstance(pairs, str):
            pairs = [pairs]
        if pairs is not None and len(pairs) != len(texts):
            raise ValueError(f"texts and pairs must have the same length. "
                             f"Received: {len(texts)} texts and {len(pairs)} pairs")
        encoded = self.encode(list(texts), None if pairs is None else list(pairs),
                              max_length, pad_to_max_length)
        return {k: v.numpy() for k, v in encoded.items()}

    def detokenize(self, token_ids) -> list[str]:
        """Ids back to text, one string per row: `[CLS]`, `[SEP]` and padding dropped,
        word pieces joined, words separated by spaces (as Hugging Face's `decode`)."""
        skip = {self.pad_id, self.cls_id, self.sep_id}
        rows = token_ids.to_list() if isinstance(token_ids, tf.RaggedTensor) \
            else np.asarray(token_ids).tolist()
        rows = [[int(i) for i in row if int(i) not in skip] for row in rows]
        ragged = tf.ragged.constant(rows, dtype=tf.int32, ragged_rank=1)
        return [text.decode("utf-8") for text in self._wordpiece.detokenize(ragged).numpy()]


def load_tokenizer(path) -> BertTokenizer:
    """A tokenizer from a `vocab.txt` or a model directory (tfbert, Hugging Face, Google,
    keras-hub), with the casing the directory declares."""
    path = os.fspath(path)
    if os.path.isfile(path):
        return BertTokenizer.from_file(path)
    for candidate in ("vocab.txt", os.path.join("assets", "tokenizer", "vocabulary.txt")):
        if os.path.isfile(os.path.join(path, candidate)):
            return BertTokenizer.from_file(os.path.join(path, candidate),
                                           lowercase=declared_lowercase(path))
    raise ValueError(f"{path}: no vocab.txt; expected a vocabulary file or a model directory "
                     "that holds one")
