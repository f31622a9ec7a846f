"""The demo's pre-training text: held-out documents for the dev curve, and how many tokens
a run of so many steps saw."""

from __future__ import annotations

import hashlib
import os

from tfbert.atomic import atomic_file


def split_documents(corpus, out_dir, dev_share: float) -> tuple[str, str]:
    """Splits `corpus` (documents separated by blank lines) into `out_dir/train.txt` and
    `out_dir/dev.txt`: a document goes to dev when the MD5 of its text falls in the first
    `dev_share` of the hash range (the same split on every machine). Returns both paths."""
    with open(corpus, encoding="utf-8") as f:
        documents = [d.strip("\n") for d in f.read().split("\n\n") if d.strip()]
    dev = [int.from_bytes(hashlib.md5(d.encode("utf-8")).digest()[:4], "big") / 2 ** 32
           < dev_share for d in documents]
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name, wanted in (("train", False), ("dev", True)):
        path = os.path.join(out_dir, f"{name}.txt")
        with atomic_file(path) as staging:
            with open(staging, "w", encoding="utf-8") as f:
                f.write("\n\n".join(d for d, held in zip(documents, dev) if held == wanted)
                        + "\n")
        paths.append(path)
    return paths[0], paths[1]


def tokens_seen(data_dir, examples: int) -> int:
    """The tokens (not padding) in `examples` pre-training instances of `data_dir`, at the
    data's mean instance length."""
    import tensorflow as tf

    from tfbert.data.pretraining import load_pretraining_dataset

    dataset, manifest = load_pretraining_dataset(data_dir)
    total = dataset.map(lambda x: tf.size(x["token_ids"])).reduce(
        tf.constant(0), lambda total, size: total + size)
    return round(int(total) / manifest["instances"] * examples)
