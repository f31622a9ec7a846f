"""`tfbert trim-vocab`: a model whose vocabulary holds only what a corpus needs.

Kept: the special tokens, every piece the model's tokenizer produces on the corpus, and
every single character and `##` character piece, so any text still tokenizes (a word
whose longest pieces are gone splits into shorter ones, at worst characters). WordPiece
takes the longest piece of the vocabulary at each step, and every piece a corpus text
produced is kept with nothing longer added, so each corpus text gets exactly the pieces
it had: the same ids after the remapping, the same outputs. The token embedding rows (and a
masked-LM output bias) follow the kept pieces; an export of the trimmed directory writes the
trimmed vocabulary into its in-model tokenizer and TFLite metadata.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from tfbert.atomic import staged_directory, write_json
from tfbert.convert.loader import read_checkpoint
from tfbert.model_dir import WEIGHTS_FILE, is_model_dir

# Tensors with one row (or entry) per vocabulary id.
ID_TENSORS = ("embeddings/token_embedding/embeddings", "masked_lm/output_bias")


@dataclasses.dataclass(frozen=True)
class TrimResult:
    """`kept`: the original ids kept, in order (new id = position); `corpus_pieces`: how
    many distinct pieces the corpus produced."""

    out: str
    vocab_size: int
    original_size: int
    corpus_pieces: int
    texts: int
    kept: tuple

    def summary(self) -> str:
        return (f"kept {self.vocab_size:,} of {self.original_size:,} pieces "
                f"({self.corpus_pieces:,} from {self.texts:,} corpus texts, the rest special "
                f"tokens and single characters)")


def corpus_texts(path) -> list:
    """The texts of a corpus file: `.jsonl`/`.csv`/`.tsv` rows' `text` (and `pair`)
    columns, anything else one text per line."""
    from tfbert import textfile
    from tfbert.data import readers

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"--corpus {path}: no such file")
    if readers.table_format(path):
        texts = []
        for number, row in readers.records(path, readers.table_format(path)):
            for column in ("text", "pair"):
                value = row.get(column)
                if isinstance(value, str) and value.strip():
                    texts.append(value)
            if "text" not in row:
                raise ValueError(f"--corpus {path}: line {number}: no 'text' column; expected "
                                 "rows with a text (and pair) column, or a .txt file")
        return texts
    return [line for line in textfile.lines(path) if line.strip()]


def kept_ids(vocab: list, corpus_ids) -> list:
    """The ids to keep, in their original order (see the module docstring)."""
    from tfbert.tokenization.bert_tokenizer import SPECIAL_TOKENS

    keep = set(int(i) for i in corpus_ids)
    for i, token in enumerate(vocab):
        bare = token[2:] if token.startswith("##") else token
        if token in SPECIAL_TOKENS or len(bare) == 1:
            keep.add(i)
    return sorted(keep)


def trim_vocab(model, corpus, out, batch_size=256) -> TrimResult:
    """Writes to `out` the model at `model` (a model directory or checkpoint) with only the
    vocabulary `corpus` (a file, or a list of files) needs; returns a `TrimResult`.
    A corpus that yields no pieces is an error, raised before anything is written."""
    from tfbert.tokenization import load_tokenizer

    checkpoint = read_checkpoint(model, "MODEL")
    if not checkpoint.vocab_file:
        raise ValueError(f"MODEL {checkpoint.source}: has no vocab.txt; expected a model "
                         "directory with its vocabulary")
    if os.path.abspath(out) == os.path.abspath(checkpoint.source):
        raise ValueError(f"--out {out}: is the model itself; choose a new directory")
    if os.path.isdir(out) and os.listdir(out) and not is_model_dir(out):
        raise ValueError(f"--out {os.path.abspath(out)}: exists, is not empty and is not a "
                         "tfbert model directory; choose a new output directory")
    tokenizer = load_tokenizer(checkpoint.source)   # with the casing it declares
    vocab = tokenizer.vocab
    files = [corpus] if isinstance(corpus, (str, os.PathLike)) else list(corpus)
    texts = [t for f in files for t in corpus_texts(f)]
    seen = set()
    for start in range(0, len(texts), batch_size):
        ids = tokenizer.tokenize(texts[start:start + batch_size]).flat_values.numpy()
        seen.update(np.unique(ids).tolist())
    unk = vocab.index("[UNK]")
    if not seen - {unk}:
        names = ", ".join(os.fspath(f) for f in files)
        raise ValueError(f"--corpus {names}: yields no word pieces ({len(texts)} texts); "
                         "expected text in the model's language")
    keep = kept_ids(vocab, seen)
    tensors = dict(checkpoint.tensors)
    for name in ID_TENSORS:
        if name in tensors:
            tensors[name] = np.ascontiguousarray(tensors[name][keep])
    config = checkpoint.config.replace(vocab_size=len(keep))
    _write(out, config, checkpoint.spec, tensors, [vocab[i] for i in keep])
    return TrimResult(os.fspath(out), len(keep), len(vocab), len(seen), len(texts),
                      tuple(keep))


def _write(out, config, spec, tensors, vocab):
    from safetensors.numpy import save_file

    with staged_directory(out, replace=True) as staging:
        with open(os.path.join(staging, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("".join(token + "\n" for token in vocab))
        config.to_json_file(os.path.join(staging, "config.json"))
        save_file({k: np.asarray(v, np.float32) for k, v in tensors.items()},
                  os.path.join(staging, WEIGHTS_FILE))
        write_json(os.path.join(staging, "task.json"), spec.to_dict())


__all__ = ["TrimResult", "corpus_texts", "kept_ids", "trim_vocab"]
