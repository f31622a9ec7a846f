"""`tfbert predict` over exported files: a SavedModel (or a TF Serving base directory, whose
newest version is used) and a `.tflite` file (LiteRT; the tf-text registrar for in-model
tokenizers). Results have the format of the Keras path (`tfbert.training.predict`).
"""

from __future__ import annotations

import bisect
import json
import os

import numpy as np

from tfbert.task import TaskSpec, constrained_tags, entity_spans, label_result
from tfbert.tokenization.normalize import split_words


def is_exported(path) -> bool:
    path = os.fspath(path)
    return path.endswith(".tflite") or saved_model_dir(path) is not None


def saved_model_dir(path):
    """`path` if it is a SavedModel, else the newest integer version under it (a TF Serving
    base directory), else None."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    if os.path.isdir(path):
        versions = [int(n) for n in os.listdir(path) if n.isdigit()
                    and os.path.isfile(os.path.join(path, n, "saved_model.pb"))]
        if versions:
            return os.path.join(path, str(max(versions)))
    return None


def load_predictor(path, batch_size=32):
    """A predictor for an exported path (`.tflite` or SavedModel)."""
    path = os.fspath(path)
    if path.endswith(".tflite"):
        return LitePredictor(path)
    return SavedModelPredictor(saved_model_dir(path), batch_size)


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class SavedModelPredictor:
    """Calls `serving_default` of a tfbert SavedModel."""

    def __init__(self, path, batch_size=32):
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (the graph's tokenizer ops)

        record = os.path.join(path, "assets.extra", "tfbert_export.json")
        if not os.path.isfile(record):
            raise ValueError(f"{path}: no assets.extra/tfbert_export.json; expected a "
                             "SavedModel written by tfbert export")
        from tfbert.export.trust import check_untrusted_saved_model
        from tfbert.textfile import first_line, read_json

        task = read_json(record, "tfbert's export record (an object)").get("task")
        self.spec = TaskSpec.from_dict(task, source=f"{record} ('task')")
        self.task = self.spec.task
        check_untrusted_saved_model(path)
        if not os.path.isfile(os.path.join(path, "variables", "variables.index")):
            raise ValueError(f"{path}: no variables/variables.index; expected a complete "
                             "SavedModel written by tfbert export")
        try:
            self.serve = tf.saved_model.load(path).signatures["serving_default"]
        except (tf.errors.OpError, KeyError) as err:
            raise ValueError(f"{path}: the SavedModel does not load "
                             f"({first_line(err)[:200]}); variables/ truncated or missing?") \
                from None
        self.batch_size = batch_size
        self._tf = tf

    def predict(self, records) -> list:
        out = []
        for start in range(0, len(records), self.batch_size):
            out += self._batch(records[start:start + self.batch_size])
        return out

    def _call(self, **columns):
        tf = self._tf
        result = self.serve(**{k: tf.constant(v, tf.string) for k, v in columns.items()})
        return {k: v.numpy() for k, v in result.items()}

    def _batch(self, records):
        task, labels = self.task, list(self.spec.labels)
        texts = [r.get("text", "") for r in records]
        if task in ("classify", "pair"):
            columns = {"text": texts}
            if task == "pair":
                columns["text_pair"] = [r.get("pair", "") for r in records]
            out = self._call(**columns)
            return [label_result(r, p, labels, self.spec.multi_label)
                    for r, p in zip(records, out["probabilities"])]
        if task == "ner":
            out = self._call(text=texts)
            return [{**r, "entities": [
                {"text": _text(out["entity_texts"][i, k]), "type": _text(out["entity_types"][i, k]),
                 "start": int(out["entity_starts"][i, k]), "end": int(out["entity_ends"][i, k]),
                 "score": float(out["entity_scores"][i, k])}
                for k in range(int(out["num_entities"][i]))],
                "tags": [_text(t) for t in out["tags"][i][:int(out["num_words"][i])]]}
                for i, r in enumerate(records)]
        if task == "qa":
            out = self._call(question=[r["question"] for r in records],
                             context=[r["context"] for r in records])
            return [{**r, "answer": _text(out["answer"][i]), "start": int(out["start"][i]),
                     "end": int(out["end"][i]),
                     "score": float(out["score"][i]) if out["has_answer"][i] else None}
                    for i, r in enumerate(records)]
        if task == "pretrain":
            out = self._call(text=texts)
            return [{**r, "masks": [
                [{"token": _text(t), "score": float(s)} for t, s in zip(tokens, scores)]
                for tokens, scores in zip(out["tokens"][i], out["scores"][i]) if tokens[0]]}
                for i, r in enumerate(records)]
        out = self._call(text=texts)
        return [{**r, "embedding": [round(float(x), 6) for x in e]}
                for r, e in zip(records, out["embedding"])]


def _char_offsets(text, byte_offsets):
    """UTF-8 byte offsets into `text` as character offsets."""
    encoded = text.encode("utf-8")
    return [len(encoded[:b].decode("utf-8", errors="ignore")) if b >= 0 else -1
            for b in byte_offsets]


class LitePredictor:
    """Runs a tfbert `.tflite` export one input at a time (its signature takes batch 1)."""

    def __init__(self, path):
        from tfbert.export import litert_export, tflite

        # The files MediaPipe metadata packs (tfbert.export.metadata; not imported here,
        # as it needs the mediapipe package).
        LABELS_FILE, VOCAB_FILE = "labels.txt", "vocab.txt"  # noqa: N806

        with open(path, "rb") as f:
            content = f.read()
        if not content:
            raise ValueError(f"{path}: empty file; expected a .tflite model")
        try:
            files = litert_export.packed_files(content)
            # LiteRT verifies the flatbuffer before using it.
            self.interpreter = tflite.make_interpreter(content)
        except (ValueError, RuntimeError) as err:
            raise ValueError(f"{path}: not a usable .tflite model ({str(err).strip()[:200]}); "
                             "truncated or not written by tfbert export?") from None
        self.runner = self.interpreter.get_signature_runner()
        from tfbert.textfile import decode

        def packed_text(name):
            return decode(f"{path} ({name})", files[name])

        if litert_export.TASK_FILE in files:
            source = f"{path} ({litert_export.TASK_FILE})"
            try:
                task = json.loads(packed_text(litert_export.TASK_FILE))
            except json.JSONDecodeError as err:
                raise ValueError(f"{source}: invalid JSON ({err.msg})") from None
            self.spec = TaskSpec.from_dict(task, source=source)
            self.tokenizer = None
        elif VOCAB_FILE in files and LABELS_FILE in files:
            from tfbert.tokenization import BertTokenizer

            labels = packed_text(LABELS_FILE).splitlines()
            length = int(self.interpreter.get_input_details()[0]["shape"][1])
            self.spec = TaskSpec(task="classify", labels=tuple(labels), max_length=length)
            self.tokenizer = BertTokenizer(packed_text(VOCAB_FILE).splitlines())
        else:
            raise ValueError(f"{path}: not a tfbert export (no {litert_export.TASK_FILE} and "
                             "no classifier metadata packed in the file)")
        self.task = self.spec.task

    def predict(self, records) -> list:
        if self.tokenizer is not None:  # id inputs (metadata export)
            return self._ids(records)
        return [self._one(r) for r in records]

    def _ids(self, records):
        # One tokenizer call for all the texts, then the model one row at a time.
        ids = self.tokenizer([r["text"] for r in records], max_length=self.spec.max_length,
                             pad_to_max_length=True)
        return [self._label(record, self.runner(
                    ids=ids["token_ids"][i:i + 1], mask=ids["padding_mask"][i:i + 1],
                    segment_ids=ids["segment_ids"][i:i + 1])["probability"][0])
                for i, record in enumerate(records)]

    def _one(self, record):
        labels, task = list(self.spec.labels), self.task
        if task in ("classify", "pair"):
            inputs = {"text": np.array([record["text"]], dtype=object)}
            if task == "pair":
                inputs["text_pair"] = np.array([record.get("pair", "")], dtype=object)
            return self._label(record, self.runner(**inputs)["probabilities"][0])
        if task == "qa":
            out = self.runner(question=np.array([record["question"]], dtype=object),
                              context=np.array([record["context"]], dtype=object))
            if int(out["start"][0]) < 0:
                return {**record, "answer": "", "start": -1, "end": -1, "score": None}
            start, end = _char_offsets(record["context"], [int(out["start"][0]),
                                                           int(out["end"][0])])
            return {**record, "answer": record["context"][start:end], "start": start,
                    "end": end, "score": float(out["score"][0])}
        out = self.runner(text=np.array([record["text"]], dtype=object))
        count = int(out["num_pieces"][0])
        starts = _char_offsets(record["text"], out["starts"][0][:count].tolist())
        words = split_words(record["text"])
        tags, scores = ["O"] * len(words), [0.0] * len(words)
        first_piece = {}
        word_starts = [s for _, s, _ in words]
        for piece, start in enumerate(starts):
            # The word holding the piece's first character; its first piece tags it.
            word = bisect.bisect_right(word_starts, start) - 1
            if word >= 0 and start < words[word][2]:
                first_piece.setdefault(word, piece)
        tagged = sorted(first_piece)
        at = [first_piece[w] for w in tagged]
        if self.spec.tag_scheme == "IOB2" and "tag_probabilities" in out and tagged:
            # The best IOB2-valid sequence over the words, as `tfbert predict` decodes.
            probabilities = out["tag_probabilities"][0][at]
            ids = constrained_tags(np.log(np.maximum(probabilities, 1e-30)), labels)
            chosen = probabilities[np.arange(len(ids)), ids]
        else:  # each word's argmax (files from before tag_probabilities, IOB1 models)
            ids, chosen = out["tag_ids"][0][at], out["tag_scores"][0][at]
        for word, tag, score in zip(tagged, ids, chosen):
            tags[word], scores[word] = labels[int(tag)], float(score)
        return {**record, "entities": entity_spans(record["text"], words, tags, scores),
                "tags": tags}

    def _label(self, record, p):
        return label_result(record, p, list(self.spec.labels), self.spec.multi_label)
