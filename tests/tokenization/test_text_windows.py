"""Long classify/pair texts as windows: ids as a plain-Python reference cuts them, the same
eagerly and in a traced graph, and an input that fits packed as `pack` packs it."""

import numpy as np
import pytest
import tensorflow as tf

from tfbert.tokenization import BertTokenizer
from tfbert.tokenization.windows import encode_windows, window_arrays

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(30)]
CLS, SEP = 2, 3


@pytest.fixture
def tok():
    return BertTokenizer(VOCAB)


def text(first, last):
    return " ".join(f"w{i}" for i in range(first, last))


def reference(pieces, pair, max_length, stride):
    """Windows as the docs describe them, written out in Python: the first text in windows
    of `room` pieces `stride` apart (pair: `pair` kept whole, at most half the room unless
    the first text leaves it more)."""
    budget = max_length - 2 - (pair is not None)
    pair = [] if pair is None else pair[:max(budget // 2, budget - len(pieces))]
    room = budget - len(pair)
    rows, offset = [], 0
    while True:
        part = pieces[offset:offset + room]
        row = [CLS] + part + [SEP] + (pair + [SEP] if pair else [])
        rows.append(row + [0] * (max_length - len(row)))
        if offset + room >= len(pieces):
            return rows
        offset += min(stride, room)


def ids(first, last):
    return [5 + i for i in range(first, last)]


def test_long_texts_become_windows_as_the_reference_cuts_them(tok):
    texts = [text(0, 23), text(0, 3), text(3, 13)]
    inputs, document = window_arrays(tok, texts, max_length=10, doc_stride=5)
    expected = [reference(ids(0, 23), None, 10, 5), reference(ids(0, 3), None, 10, 5),
                reference(ids(3, 13), None, 10, 5)]
    assert inputs["token_ids"].tolist() == [row for rows in expected for row in rows]
    # 23 pieces, 8 a window, 5 apart: windows at 0, 5, 10, 15 (the last ends at 23).
    assert document.tolist() == [0, 0, 0, 0, 1, 2, 2]
    assert inputs["padding_mask"].sum(1).tolist() == [10, 10, 10, 10, 5, 10, 7]
    assert not inputs["segment_ids"].any()


def test_a_pair_keeps_its_second_text_in_every_window(tok):
    texts, pairs = [text(0, 20), text(0, 2), text(0, 20)], [text(20, 23), text(0, 15),
                                                            text(0, 12)]
    inputs, document = window_arrays(tok, texts, pairs, max_length=14, doc_stride=4)
    expected = [reference(ids(0, 20), ids(20, 23), 14, 4),
                reference(ids(0, 2), ids(0, 15), 14, 4),
                reference(ids(0, 20), ids(0, 12), 14, 4)]
    assert inputs["token_ids"].tolist() == [row for rows in expected for row in rows]
    # Pair 3 pieces: room 8, windows at 0, 4, 8, 12; a long pair keeps half the room (5).
    assert document.tolist()[:5] == [0, 0, 0, 0, 1] and len(expected[2]) > 1
    first = inputs["segment_ids"][0].tolist()
    assert first == [0] * 10 + [1] * 4   # [CLS] 8 pieces [SEP] | 3 pieces [SEP]


def test_an_input_that_fits_is_packed_as_pack_packs_it(tok):
    texts, pairs = [text(0, 5), "w7"], [text(5, 9), text(0, 3)]
    windows, document = window_arrays(tok, texts, pairs, max_length=16, doc_stride=3)
    packed = tok(texts, pairs, max_length=16, pad_to_max_length=True)
    assert document.tolist() == [0, 1]
    for key in packed:
        np.testing.assert_array_equal(windows[key], packed[key])


def test_the_graph_builds_the_same_windows_as_eager_code(tok):
    texts = [text(0, 29), "", text(2, 11)]
    pairs = [text(0, 4), text(1, 3), ""]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)] * 2)
    def traced(t, p):
        inputs, document = encode_windows(tok, t, p, max_length=12, doc_stride=3,
                                          pad_to_max_length=False)
        return inputs, document

    graph_inputs, graph_document = traced(tf.constant(texts), tf.constant(pairs))
    eager_inputs, eager_document = window_arrays(tok, texts, pairs, max_length=12,
                                                 doc_stride=3)
    np.testing.assert_array_equal(graph_document, eager_document)
    width = graph_inputs["token_ids"].shape[1]
    for key, value in eager_inputs.items():
        np.testing.assert_array_equal(graph_inputs[key], value[:, :width])
        assert not value[:, width:].any()
    assert eager_document.tolist().count(0) > 1   # the long text did become windows
