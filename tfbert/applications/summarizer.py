"""`Summarizer`: extractive summaries, the sentences of a document that best cover it."""

from __future__ import annotations

import numpy as np

from tfbert.task.decoding import mean_embedding
from tfbert.tokenization.sentences import detect_language, split_sentences

BUCKET = 16  # batch widths are multiples of this (few shapes, few retraces)
CHUNK = 64   # documents summarised (their sentences embedded) together by summarize_records


def mmr_select(embeddings: np.ndarray, k: int, diversity: float) -> tuple:
    """Maximal Marginal Relevance over unit-length sentence `embeddings` `(n, hidden)`.

    Relevance is each sentence's cosine to the centroid (the mean embedding). The first
    pick is the most relevant sentence; each next one maximises
    `(1 - diversity) * relevance - diversity * (max cosine to the sentences already
    picked)`, so a sentence that repeats a picked one loses `diversity` per unit of
    similarity. Ties go to the earlier sentence. Returns `(picked indices in document
    order, relevance (n,))`.
    """
    centroid = embeddings.mean(0)
    norm = np.linalg.norm(centroid)
    relevance = embeddings @ (centroid / norm) if norm > 1e-12 else np.zeros(len(embeddings))
    if k >= len(embeddings):
        return list(range(len(embeddings))), relevance
    similarity = embeddings @ embeddings.T                   # (n, n) cosines
    picked = [int(np.argmax(relevance))]
    redundancy = similarity[picked[0]].copy()                # (n,) max cosine to the picked
    while len(picked) < k:
        score = (1 - diversity) * relevance - diversity * redundancy
        score[picked] = -np.inf
        best = int(np.argmax(score))
        picked.append(best)
        redundancy = np.maximum(redundancy, similarity[best])
    return sorted(picked), relevance


class Summarizer:
    """Extractive summarization with a BERT sentence encoder.

    A document is split into sentences (`tfbert.tokenization.sentences`); each sentence is
    embedded as the mean of the encoder's outputs over its real pieces ([CLS] and [SEP]
    included, padding not), scaled to unit length so that dot products are cosines; the
    summary is the `sentences` picked by Maximal Marginal Relevance (`mmr_select`),
    returned in document order. Mean pooling is used whatever pooling a checkpoint
    declares: it is what `tfbert predict` returns for an encoder, and a [CLS] pooler not
    trained for similarity is a poor sentence embedding. A sentence longer than
    `max_length` pieces is embedded from its first window of `max_length` pieces.

    Example:
    >>> summarize = tfbert.Summarizer.from_pretrained("all-MiniLM-L6-v2")   # doctest: +SKIP
    >>> summarize(article, sentences=2)["summary"]                         # doctest: +SKIP
    """

    def __init__(self, encoder, tokenizer, max_length: int, batch_size: int = 32):
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size

    @classmethod
    def from_pretrained(cls, name_or_path, batch_size: int = 32, max_length=None):
        """The encoder of `name_or_path`: a checkpoint name (`all-MiniLM-L6-v2`), a tfbert
        model directory of any task, or any checkpoint directory tfbert reads.
        `max_length` (pieces per sentence) defaults to the checkpoint's."""
        from tfbert.applications.encoder_source import load_encoder

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer. "
                             f"Received: batch_size={batch_size!r}")
        encoder, tokenizer, max_length = load_encoder(name_or_path, max_length)
        return cls(encoder, tokenizer, max_length, batch_size)

    def embed(self, texts) -> np.ndarray:
        """Unit-length sentence embeddings `(len(texts), hidden)` float32, in input order.

        Texts are batched by length (each batch cut to its longest, rounded up to 16)."""
        texts = list(texts)
        pooled = np.zeros((len(texts), self.encoder.output["sequence_output"].shape[-1]),
                          "float32")
        if not texts:
            return pooled
        inputs = {k: np.asarray(v, "int32") for k, v in
                  self.tokenizer(texts, max_length=self.max_length).items()}
        lengths = inputs["padding_mask"].sum(1)
        order = np.argsort(-lengths, kind="stable")
        for start in range(0, len(texts), self.batch_size):
            rows = order[start:start + self.batch_size]
            width = min(-(-int(lengths[rows].max()) // BUCKET) * BUCKET,
                        inputs["token_ids"].shape[1])
            batch = {k: v[rows, :width] for k, v in inputs.items()}
            hidden = self.encoder.predict_on_batch(batch)["sequence_output"]  # (b, w, hidden)
            pooled[rows] = mean_embedding(hidden, batch["padding_mask"], normalize=True)
        return pooled

    def __call__(self, documents, sentences: int = 3, diversity: float = 0.3):
        """The summary of one document (a dict) or of a list of documents (a list).

        Each answer: `{"summary": the picked sentences joined in document order ("" between
        Chinese sentences, " " between English ones), "sentences": [{"text", "index",
        "start", "end", "score"}]}`, `index` the sentence's position in the document,
        `start`/`end` its character span, `score` its cosine to the document's centroid.
        A document of at most `sentences` sentences is returned whole.
        """
        if isinstance(sentences, bool) or not isinstance(sentences, int) or sentences < 1:
            raise ValueError(f"sentences must be an integer of at least 1. "
                             f"Received: sentences={sentences!r}")
        if isinstance(diversity, bool) or not isinstance(diversity, (int, float)) \
                or not 0 <= diversity <= 1:
            raise ValueError(f"diversity must be a number from 0 to 1. "
                             f"Received: diversity={diversity!r}")
        single = isinstance(documents, str)
        documents = [documents] if single else list(documents)
        parts = []
        for i, document in enumerate(documents):
            name = "document" if single else f"documents[{i}]"
            if not isinstance(document, str):
                raise ValueError(f"{name} must be a string. Received: "
                                 f"{type(document).__name__}")
            language = detect_language(document)
            split = split_sentences(document, language)
            if not split:
                raise ValueError(f"{name} holds no sentence. Received: {document!r:.60}")
            parts.append((language, split))
        embeddings = self.embed([s.text for _, split in parts for s in split])
        answers, offset = [], 0
        for language, split in parts:
            own = embeddings[offset:offset + len(split)]
            offset += len(split)
            picked, relevance = mmr_select(own, sentences, float(diversity))
            chosen = [{"text": split[j].text, "index": j, "start": split[j].start,
                       "end": split[j].end, "score": round(float(relevance[j]), 6)}
                      for j in picked]
            joiner = "" if language == "zh" else " "
            answers.append({"summary": joiner.join(c["text"] for c in chosen),
                            "sentences": chosen})
        return answers[0] if single else answers


def read_documents(path, text_column: str = "text") -> list:
    """The documents of a file as records: a `.txt` file is one document (`[{text_column:
    content}]`), a `.jsonl` file one JSON object per line with a non-empty `text_column`
    string. Anything else is a one-line `ValueError` naming the file (and line)."""
    from tfbert import textfile
    from tfbert.data.readers import records

    lower = str(path).lower()
    if lower.endswith(".txt"):
        text = textfile.read_text(path)
        if not text.strip():
            raise ValueError(f"{path}: holds no text; expected a document")
        return [{text_column: text}]
    if not lower.endswith(".jsonl"):
        raise ValueError(f"--input {path}: expected a .txt file (one document) or .jsonl (one "
                         "document per line)")
    documents = []
    for number, record in records(path, "jsonl"):
        if not isinstance(record.get(text_column), str):
            raise ValueError(f"{path}: line {number}: expected a JSON object with a string "
                             f"{text_column!r} field (--text-column)")
        if not record[text_column].strip():
            raise ValueError(f"{path}: line {number}: the {text_column!r} field is empty")
        documents.append(record)
    if not documents:
        raise ValueError(f"{path}: holds no document")
    return documents


def summarize_records(summarizer, records, text_column, sentences, diversity):
    """Yields one answer per record, `CHUNK` documents at a time: the record's other keys,
    then `summary` and `sentences`."""
    for start in range(0, len(records), CHUNK):
        chunk = records[start:start + CHUNK]
        answers = summarizer([r[text_column] for r in chunk], sentences=sentences,
                             diversity=diversity)
        for record, answer in zip(chunk, answers):
            yield {**{k: v for k, v in record.items() if k != text_column}, **answer}
