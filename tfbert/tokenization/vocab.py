"""WordPiece vocabulary learning from raw text (tf-text's learner), streaming over files."""

from __future__ import annotations

import os

import tensorflow as tf

from tfbert import textfile
from tfbert.atomic import atomic_file
from tfbert.progress import progress_bar
from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS
from tfbert.tokenization.cjk import is_cjk
from tfbert.tokenization.normalize import normalize

def count_words(files, lowercase=True, batch_size=1024, progress=False):
    """Word counts over `files`, read line by line (memory grows with the number of
    distinct words, not with the corpus), split exactly as the tokenizer splits.
    `progress`: show a bar over the lines read."""
    from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer
    from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

    lines = 0
    for path in files:
        if not os.path.isfile(path):
            raise ValueError(f"{path}: no such file")
        lines += textfile.check_utf8(path)  # tf.data would pass bad bytes on silently
    splitter = BasicTokenizer(lower_case=False)
    dataset = (tf.data.TextLineDataset([os.fspath(f) for f in files])
               .batch(batch_size)
               .map(lambda lines: splitter.tokenize(normalize(lines, lowercase, None)),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))
    if progress:
        dataset = _counted(dataset, lines, batch_size)
    try:
        return learner.count_words(dataset)
    except StopIteration:
        raise ValueError(f"no words in {[os.fspath(f) for f in files]}") from None


def _counted(batches, lines, batch_size):
    """`batches` (one per `batch_size` of the `lines` lines), moving a bar over the lines."""
    bar = progress_bar(lines, unit_name="line")
    done = 0
    for batch in batches:
        yield batch
        done = min(done + batch_size, lines)
        bar.update(done, finalize=False)
    bar.update(lines)


def learn_vocab(files, size: int, lowercase: bool = True, progress: bool = False) -> list[str]:
    """A BERT vocabulary of about `size` tokens: the special tokens first, then word pieces
    by frequency; every CJK ideograph of the corpus is kept even past `size`."""
    from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

    if size <= len(SPECIAL_TOKENS):
        raise ValueError(f"--size must exceed the {len(SPECIAL_TOKENS)} special tokens. "
                         f"Received: size={size}")
    counts = count_words(files, lowercase, progress=progress)
    cjk = [t for t in counts if is_cjk(t)]
    # The learner adds "##c" for every character c; a CJK ideograph is always a word of its
    # own, so its "##" form is never used. Ask for that many more, then drop them.
    vocab = learner.learn(counts, size + len(cjk), list(SPECIAL_TOKENS),
                          max_unique_chars=100000)
    vocab = [t for t in vocab if not (t.startswith("##") and is_cjk(t[2:]))]
    present = set(vocab)
    missing = sorted((t for t in cjk if t not in present), key=lambda t: (-counts[t], t))
    return vocab + missing


def write_vocab(vocab, path) -> None:
    """Writes one token per line; the file appears only complete."""
    with atomic_file(path) as staging:
        with open(staging, "w", encoding="utf-8") as f:
            f.write("".join(token + "\n" for token in vocab))
