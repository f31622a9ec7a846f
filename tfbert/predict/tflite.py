"""Predicting with a tfbert `.tflite` file through LiteRT, one input at a time (its
signature takes batch 1): in-model tokenizer exports take raw strings (the tf-text ops
registered), metadata exports (MediaPipe) take ids from the vocabulary packed in the file."""

from __future__ import annotations

import bisect
import json

import numpy as np

from tfbert.export.tflite_files import LABELS_FILE, TASK_FILE, VOCAB_FILE, packed_files
from tfbert.predict.base import Predictor, check_n_best
from tfbert.task import TaskSpec, constrained_tags, entity_spans, label_result
from tfbert.task.decoding import nbest_list
from tfbert.tokenization.normalize import split_words


def _char_offsets(text, byte_offsets):
    """UTF-8 byte offsets into `text` as character offsets."""
    encoded = text.encode("utf-8")
    return [len(encoded[:b].decode("utf-8", errors="ignore")) if b >= 0 else -1
            for b in byte_offsets]


class LitePredictor(Predictor):
    """Runs a tfbert `.tflite` export one input at a time (its signature takes batch 1)."""

    def __init__(self, path, n_best=None):
        from tfbert.export import tflite_convert

        with open(path, "rb") as f:
            content = f.read()
        if not content:
            raise ValueError(f"{path}: empty file; expected a .tflite model")
        try:
            files = packed_files(content)
            # LiteRT verifies the flatbuffer before using it.
            self.interpreter = tflite_convert.make_interpreter(content)
        except (ValueError, RuntimeError) as err:
            raise ValueError(f"{path}: not a usable .tflite model ({str(err).strip()[:200]}); "
                             "truncated or not written by tfbert export?") from None
        self.runner = self.interpreter.get_signature_runner()
        from tfbert.textfile import decode

        def packed_text(name):
            return decode(f"{path} ({name})", files[name])

        if TASK_FILE in files:
            source = f"{path} ({TASK_FILE})"
            try:
                task = json.loads(packed_text(TASK_FILE))
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
            raise ValueError(f"{path}: not a tfbert export (no {TASK_FILE} and "
                             "no classifier metadata packed in the file)")
        # Fixed at export (tfbert export --n-best); files from before it list none.
        outputs = self.runner.get_output_details()
        listed = int(outputs["nbest_scores"]["shape"][-1]) if "nbest_scores" in outputs else 0
        self.n_best = check_n_best(n_best, self.spec, listed, path)

    def _batch(self, records) -> list:
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
        labels, task = self.labels, self.task
        if task in ("classify", "pair"):
            inputs = {"text": np.array([record["text"]], dtype=object)}
            if task == "pair":
                inputs["text_pair"] = np.array([record.get("pair", "")], dtype=object)
            return self._label(record, self.runner(**inputs)["probabilities"][0])
        if task == "qa":
            out = self.runner(question=np.array([record["question"]], dtype=object),
                              context=np.array([record["context"]], dtype=object))
            context = record["context"]
            if int(out["start"][0]) < 0:
                answer = {**record, "answer": "", "start": -1, "end": -1, "score": None}
            else:
                start, end = _char_offsets(context, [int(out["start"][0]), int(out["end"][0])])
                answer = {**record, "answer": context[start:end], "start": start, "end": end,
                          "score": float(out["score"][0])}
            if self.n_best:
                found = [k for k in range(self.n_best) if out["nbest_starts"][0, k] >= 0]
                starts = _char_offsets(context, [int(out["nbest_starts"][0, k]) for k in found])
                ends = _char_offsets(context, [int(out["nbest_ends"][0, k]) for k in found])
                answer["n_best"] = nbest_list([
                    {"answer": context[s:e], "start": s, "end": e,
                     "score": float(out["nbest_scores"][0, k])}
                    for k, s, e in zip(found, starts, ends)])
            return answer
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
        return label_result(record, p, self.labels, self.spec.multi_label,
                            self.spec.thresholds)
