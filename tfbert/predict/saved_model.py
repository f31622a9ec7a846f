"""Predicting with a tfbert SavedModel through its `serving_default` signature, as TF
Serving runs it (raw strings in; the tokenizer is in the graph)."""

from __future__ import annotations

import os

from tfbert.predict.base import Predictor, check_n_best
from tfbert.task import TaskSpec, label_result


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class SavedModelPredictor(Predictor):
    """Calls `serving_default` of a tfbert SavedModel."""

    def __init__(self, path, batch_size=32, n_best=None):
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (the graph's tokenizer ops)

        record = os.path.join(path, "assets.extra", "tfbert_export.json")
        if not os.path.isfile(record):
            raise ValueError(f"{path}: no assets.extra/tfbert_export.json; expected a "
                             "SavedModel written by tfbert export")
        from tfbert.export.saved_model_ops import check_untrusted_saved_model
        from tfbert.textfile import first_line, read_json

        exported = read_json(record, "tfbert's export record (an object)")
        self.spec = TaskSpec.from_dict(exported.get("task"), source=f"{record} ('task')")
        # Fixed at export (tfbert export --n-best); exports from before it list none.
        listed = exported.get("n_best", 0) if isinstance(exported.get("n_best"), int) else 0
        self.n_best = check_n_best(n_best, self.spec, listed, path)
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

    def _call(self, **columns):
        tf = self._tf
        result = self.serve(**{k: tf.constant(v, tf.string) for k, v in columns.items()})
        return {k: v.numpy() for k, v in result.items()}

    def _batch(self, records):
        task, labels = self.task, self.labels
        texts = [r.get("text", "") for r in records]
        if task in ("classify", "pair"):
            columns = {"text": texts}
            if task == "pair":
                columns["text_pair"] = [r.get("pair", "") for r in records]
            out = self._call(**columns)
            return [label_result(r, p, labels, self.spec.multi_label, self.spec.thresholds)
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
            answers = [{**r, "answer": _text(out["answer"][i]), "start": int(out["start"][i]),
                        "end": int(out["end"][i]),
                        "score": float(out["score"][i]) if out["has_answer"][i] else None}
                       for i, r in enumerate(records)]
            if self.n_best:
                for i, answer in enumerate(answers):
                    answer["n_best"] = [
                        {"answer": _text(out["nbest_answers"][i, k]),
                         "start": int(out["nbest_starts"][i, k]),
                         "end": int(out["nbest_ends"][i, k]),
                         "score": float(out["nbest_scores"][i, k]),
                         "probability": float(out["nbest_probabilities"][i, k])}
                        for k in range(self.n_best) if out["nbest_starts"][i, k] >= 0]
            return answers
        if task == "pretrain":
            out = self._call(text=texts)
            return [{**r, "masks": [
                [{"token": _text(t), "score": float(s)} for t, s in zip(tokens, scores)]
                for tokens, scores in zip(out["tokens"][i], out["scores"][i]) if tokens[0]]}
                for i, r in enumerate(records)]
        out = self._call(text=texts)
        return [{**r, "embedding": [round(float(x), 6) for x in e]}
                for r, e in zip(records, out["embedding"])]
