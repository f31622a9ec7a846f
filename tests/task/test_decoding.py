"""The decoding every runtime shares (`tfbert.task.decoding`): QA spans, IOB2 tag
sequences, the tag scheme of training data."""

import numpy as np

from tfbert.task import decoding


def test_best_span_and_the_null_answer():
    # Two windows of one example; context pieces are positions 2..5 (char spans >= 0).
    spans = np.full((2, 6, 2), -1, "int32")
    spans[:, 2:, 0] = 0
    windows = {"example_index": np.array([0, 0]), "char_spans": spans}
    start = np.array([[5.0, 0, 1, 3, 0, 0], [1.0, 0, 0, 0, 2, 0]])
    end = np.array([[5.0, 0, 0, 1, 4, 0], [1.0, 0, 0, 0, 0, 3]])
    # Best span: window 0, start 3 (3) + end 4 (4) = 7; end before start is not allowed.
    assert decoding.best_spans(start, end, windows, 1) == [(7.0, 0, 3, 4)]
    # Null score: the lowest [CLS] score over the windows, 1 + 1 = 2 < 7: keep the span.
    assert decoding.best_spans(start, end, windows, 1, no_answer=True) == [(7.0, 0, 3, 4)]
    start[:, 0] = end[:, 0] = 5.0      # now 10 > 7: "no answer"
    assert decoding.best_spans(start, end, windows, 1, no_answer=True) == [None]


def _overlapping_windows():
    """One example, a context of 6 characters-pieces read in two windows of length 6
    ([CLS] q [SEP] then 3 context pieces; window 1 starts 2 pieces later), so that
    context piece 2 is in both windows."""
    spans = np.full((2, 6, 2), -1, "int32")
    spans[0, 2:5] = [(0, 1), (1, 2), (2, 3)]
    spans[1, 2:5] = [(2, 3), (3, 4), (4, 5)]
    return {"example_index": np.array([0, 0]), "char_spans": spans}


def test_n_best_spans_merge_windows_once_per_character_range():
    windows = _overlapping_windows()
    start = np.array([[9.0, 0, 1, 0, 3, 0], [8.0, 0, 2, 0, 1, 0]])
    end = np.array([[9.0, 0, 0, 1, 2, 5], [8.0, 0, 4, 0, 1, 0]])
    null, spans = decoding.span_candidates(start, end, windows, 1, n_best=4)[0]
    assert null == 16.0     # the lower [CLS] score of the two windows
    # Character range (2, 3) is window 0's piece 4 (3 + 2 = 5) and window 1's piece 2
    # (2 + 4 = 6): listed once, at 6. Then the two 3s (earlier window first) and the first
    # of window 0's 2s (earlier piece first). Position 5 of window 0 is [SEP] (end logit
    # 5): never part of a span.
    assert spans == [(6.0, 1, 2, 2), (3.0, 0, 2, 4), (3.0, 1, 2, 4), (2.0, 0, 2, 3)]
    # The first of the n best is the answer best_spans gives.
    assert decoding.best_spans(start, end, windows, 1) == [spans[0]]


def test_n_best_is_every_allowed_span_by_brute_force():
    rng = np.random.default_rng(0)
    windows = _overlapping_windows()
    for _ in range(20):
        start, end = rng.normal(0, 1, (2, 2, 6))
        best = {}
        for w in range(2):
            for a in range(2, 5):
                for b in range(a, min(5, a + 2)):     # max_pieces=2: at most 2 pieces long
                    key = (windows["char_spans"][w, a, 0], windows["char_spans"][w, b, 1])
                    best[key] = max(best.get(key, -np.inf), start[w, a] + end[w, b])
        expected = sorted(best.values(), reverse=True)[:4]
        _, spans = decoding.span_candidates(start, end, windows, 1, n_best=4,
                                            max_pieces=2)[0]
        np.testing.assert_allclose([s[0] for s in spans], expected)


def test_the_null_threshold_moves_the_no_answer_boundary():
    spans = np.full((1, 6, 2), -1, "int32")
    spans[0, 2:] = 0
    windows = {"example_index": np.array([0]), "char_spans": spans}
    start = np.array([[6.0, 0, 1, 3, 0, 0]])
    end = np.array([[4.0, 0, 0, 1, 4, 0]])
    # Null score 10, best span 3 + 4 = 7: margin 3.
    kept = [(7.0, 0, 3, 4)]
    assert decoding.best_spans(start, end, windows, 1, no_answer=True) == [None]
    assert decoding.best_spans(start, end, windows, 1, no_answer=True,
                               null_threshold=3.0) == kept       # "no answer" only over it
    assert decoding.best_spans(start, end, windows, 1, no_answer=True,
                               null_threshold=2.9) == [None]
    # A model trained without unanswerable questions always answers.
    assert decoding.best_spans(start, end, windows, 1, null_threshold=-50.0) == kept


def test_n_best_probabilities_are_a_softmax_over_the_list():
    listed = decoding.nbest_list([{"score": 2.0}, {"score": 1.0}, {"score": 1.0}])
    e = np.exp([1.0, 0.0, 0.0])
    np.testing.assert_allclose([a["probability"] for a in listed], e / e.sum())
    assert decoding.nbest_list([]) == []


LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def _valid_iob2(tags):
    return all(not t.startswith("I-") or p[2:] == t[2:] for p, t in zip(["O"] + tags, tags))


def _best_valid_by_enumeration(log_probs):
    import itertools

    best, best_ids = -np.inf, None
    for ids in itertools.product(range(len(LABELS)), repeat=len(log_probs)):
        if _valid_iob2([LABELS[i] for i in ids]):
            total = sum(log_probs[t, i] for t, i in enumerate(ids))
            if total > best:
                best, best_ids = total, list(ids)
    return best_ids


def test_constrained_tags_are_the_best_valid_iob2_sequence():
    rng = np.random.default_rng(0)
    for length in range(1, 6):
        for _ in range(20):
            log_probs = decoding.log_softmax(rng.normal(0, 2, (length, len(LABELS))))
            ids = decoding.constrained_tags(log_probs, LABELS).tolist()
            assert ids == _best_valid_by_enumeration(log_probs)
    # The argmax "O I-LOC I-LOC" (a fragment) becomes "O B-LOC I-LOC": the best valid path.
    log_probs = np.log([[0.9, 0.02, 0.02, 0.03, 0.03], [0.1, 0.3, 0.4, 0.1, 0.1],
                        [0.1, 0.1, 0.6, 0.1, 0.1]])
    assert [LABELS[i] for i in decoding.constrained_tags(log_probs, LABELS)] == \
        ["O", "B-LOC", "I-LOC"]


def test_the_graph_decodes_as_python_on_padded_rows():
    import tensorflow as tf

    from tfbert.export import saved_model_tasks

    rng = np.random.default_rng(1)
    lengths = np.array([1, 3, 7, 9, 9, 5])
    log_probs = decoding.log_softmax(rng.normal(0, 2, (len(lengths), 9, len(LABELS))))
    ids = saved_model_tasks.constrained_tags(tf.constant(log_probs, tf.float64),
                                       tf.constant(lengths), LABELS, max_words=12).numpy()
    for row, length in enumerate(lengths):
        expected = decoding.constrained_tags(log_probs[row, :length], LABELS).tolist()
        assert ids[row, :length].tolist() == expected


def test_ner_tags_decode_iob2_models_across_windows_and_argmax_the_rest():
    # One sentence of 4 words over two windows (words 0-1, then 2-3); the argmax tags
    # would be O I-PER | I-PER O.
    logits = np.full((2, 4, 5), -4.0)
    word_index = np.array([[-1, 0, 1, -1], [-1, 2, 3, -1]])
    for row, position, tag, score in [(0, 1, 0, 3), (0, 2, 4, 2), (0, 2, 3, 1.5),
                                      (1, 1, 4, 3), (1, 2, 0, 3)]:
        logits[row, position, tag] = score
    args = (logits, word_index, np.array([0, 0]), [4], LABELS)
    assert decoding.ner_tags(*args) == [["O", "I-PER", "I-PER", "O"]]
    assert decoding.ner_tags(*args, scheme="IOB2") == [["O", "B-PER", "I-PER", "O"]]


def test_the_tag_scheme_is_read_from_the_training_tags():
    iob2 = [(["a", "b", "c"], ["B-PER", "I-PER", "O"]), (["d"], ["B-LOC"])]
    assert decoding.detect_tag_scheme(iob2) == ("IOB2", None)
    # IOB1 (CoNLL-2003's original files): an entity may open with I-.
    assert decoding.detect_tag_scheme(iob2 + [(["e", "f"], ["O", "I-LOC"])]) == \
        ("IOB1", (3, "I-LOC"))
    assert decoding.detect_tag_scheme([(["e", "f"], ["B-PER", "I-LOC"])])[0] == "IOB1"
    assert decoding.detect_tag_scheme([(["e", "f"], ["O", "I-"])])[0] == "IOB1"


def test_ties_and_pieceless_words_still_give_valid_sequences():
    import tensorflow as tf

    from tfbert.export import saved_model_tasks

    # O and B-LOC tie at word 0, I-LOC and B-PER at word 1: max-marginals alone would
    # take "O I-LOC"; the left-to-right choice keeps the sequence valid.
    log_probs = np.full((2, len(LABELS)), -10.0)
    log_probs[0, [0, 1]] = log_probs[1, [2, 3]] = -1.0
    tags = [LABELS[i] for i in decoding.constrained_tags(log_probs, LABELS)]
    assert _valid_iob2(tags) and tags in (["B-LOC", "I-LOC"], ["O", "B-PER"])
    graph = saved_model_tasks.constrained_tags(tf.constant(log_probs[None]), tf.constant([2]),
                                         LABELS, max_words=4).numpy()[0]
    assert _valid_iob2([LABELS[i] for i in graph])
    # Word 1 has no pieces (word_index never points at it): it is O, and the I-LOC after
    # it becomes B-LOC rather than a fragment.
    logits = np.full((1, 4, 5), -4.0)
    logits[0, 1, 1] = logits[0, 2, 2] = 3.0    # word 0: B-LOC, word 2: I-LOC
    tags = decoding.ner_tags(logits, np.array([[-1, 0, 2, -1]]), np.array([0]), [3], LABELS,
                            scheme="IOB2")
    assert tags[0][1] == "O" and _valid_iob2(tags[0])
