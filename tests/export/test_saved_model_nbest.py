"""A qa SavedModel's n-best outputs and null threshold, computed in the graph, answer as
the Keras predictor does: the same n-best lists (merged across windows, each character
range once), the same top answer, and "no answer" where the null threshold says so."""

import numpy as np
import pytest

from tests.export.conftest import TEXTS, planted_null_model
from tfbert.export.saved_model import export_saved_model
from tfbert.predict.keras_model import KerasPredictor
from tfbert.predict.saved_model import SavedModelPredictor

# The next to last context is several windows long (room 25 pieces, stride 8): its windows
# overlap, so the same character range is among the best of several windows.
RECORDS = [{"question": "Where is it?", "context": t}
           for t in TEXTS + [" ".join(TEXTS * 3), "Paris."]]


def test_graph_n_best_is_the_python_n_best():
    import tensorflow as tf

    from tfbert.export.saved_model_nbest import qa_nbest_spans
    from tfbert.task.decoding import nbest_list, span_candidates

    # Three examples of 2, 1 and 3 windows; each window holds 5 context pieces (positions
    # 2..6) and starts 2 pieces after the one before, piece i covering characters 2i..2i+1.
    # Overlapping pieces get the same logits in both windows, so every span of the overlap
    # is found twice at the same score: listed once, from the earlier window.
    rng = np.random.default_rng(0)
    example = np.repeat(np.arange(3), [2, 1, 3])
    first_window = {0: 0, 1: 2, 2: 3}
    start_logits = rng.normal(0, 1, (6, 8)).astype("float32")
    end_logits = rng.normal(0, 1, (6, 8)).astype("float32")
    char_spans = np.full((6, 8, 2), -1, "int32")
    for w, e in enumerate(example):
        offset = 2 * (w - first_window[e])
        char_spans[w, 2:7] = [(2 * i, 2 * i + 1) for i in range(offset, offset + 5)]
        if w > first_window[e]:
            start_logits[w, 2:5] = start_logits[w - 1, 4:7]
            end_logits[w, 2:5] = end_logits[w - 1, 4:7]
    windows = {"example_index": example, "char_spans": char_spans}
    for n_best in (1, 6, 40):      # 40: more than the 15 to 33 spans an example has
        found, starts, ends, scores, probabilities = (x.numpy() for x in qa_nbest_spans(
            tf.constant(start_logits), tf.constant(end_logits), tf.constant(example),
            tf.constant(char_spans), 3, 30, n_best))
        for e, (_, spans) in enumerate(span_candidates(start_logits, end_logits, windows, 3,
                                                       n_best)):
            count = int(found[e].sum())
            assert count == len(spans) and found[e, :count].all()
            assert [(starts[e, k], ends[e, k]) for k in range(count)] == [
                (char_spans[w, a, 0], char_spans[w, b, 1]) for _, w, a, b in spans]
            np.testing.assert_allclose(scores[e, :count], [s[0] for s in spans], rtol=1e-6)
            np.testing.assert_allclose(probabilities[e, :count], [a["probability"] for a in
                                       nbest_list([{"score": s[0]} for s in spans])],
                                       rtol=1e-5)
            assert (starts[e, count:] == -1).all() and (scores[e, count:] == 0).all()
    # The overlaps did hold duplicates: example 2's 3 windows hold 15 spans each, the 6 of
    # each overlap (3 pieces) twice: 33 distinct.
    assert len(span_candidates(start_logits, end_logits, windows, 3, 100)[2][1]) == 33


def _listed(answer):
    return [(a["answer"], a["start"], a["end"]) for a in answer["n_best"]]


@pytest.mark.slow   # an export: ~45 s on 2 busy cores
def test_n_best_and_null_threshold_match_keras(model_dirs, tmp_path):
    plain = KerasPredictor(model_dirs["qa"], n_best=5).predict(RECORDS)
    path, threshold, margins = planted_null_model(model_dirs["qa"], RECORDS,
                                                  tmp_path / "qa-null")
    keras = KerasPredictor(path, n_best=5).predict(RECORDS)
    flipped = [m > threshold for m in margins]
    assert any(flipped) and not all(flipped)
    for before, after, no_answer in zip(plain, keras, flipped):
        # Top-1 of the n best is the answer the model gave before (no null, no threshold).
        assert _listed(before)[0] == (before["answer"], before["start"], before["end"])
        assert before["n_best"][0]["score"] == before["score"]
        assert _listed(after) == _listed(before)       # the n best ignore the null score
        assert after["answer"] == ("" if no_answer else before["answer"])
    assert len(set(_listed(plain[-2]))) == len(plain[-2]["n_best"]) == 5
    # "Paris." has two pieces, so three spans: the list is shorter than 5 (the graph pads).
    assert sorted(a for a, _, _ in _listed(plain[-1])) == [".", "Paris", "Paris."]
    version = export_saved_model(path, "qa", str(tmp_path / "served"), n_best=5)
    served = SavedModelPredictor(version, n_best=5).predict(RECORDS)
    for got, expected in zip(served, keras):
        assert (got["answer"], got["start"], got["end"]) == \
            (expected["answer"], expected["start"], expected["end"])
        assert (got["score"] is None) == (expected["score"] is None)
        assert _listed(got) == _listed(expected)
        np.testing.assert_allclose([a["score"] for a in got["n_best"]],
                                   [a["score"] for a in expected["n_best"]], atol=1e-5)
        np.testing.assert_allclose([a["probability"] for a in got["n_best"]],
                                   [a["probability"] for a in expected["n_best"]], atol=1e-5)
    # Listed at export: fewer may be asked, not more.
    assert [len(a["n_best"]) for a in SavedModelPredictor(version, n_best=2).predict(
        RECORDS[:2])] == [2, 2]
    with pytest.raises(ValueError, match="lists 5 answers per question"):
        SavedModelPredictor(version, n_best=6)
