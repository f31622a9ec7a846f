"""Model inputs for fine-tuning: classification (single texts and pairs) and NER.

NER labels go on the first word piece of each word; the other pieces, `[CLS]`, `[SEP]`
and padding get `IGNORE` so the loss skips them (the layout of google-research/bert and
Hugging Face's `is_split_into_words`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfbert.data.readers import label_ids

IGNORE = -1


def encode_classification(tokenizer, examples, labels, max_length, source="data"):
    """`(inputs, label ids)` for `TextExample`s; pairs when the examples have `pair`."""
    texts = [e.text for e in examples]
    pairs = [e.pair for e in examples] if examples and examples[0].pair is not None else None
    inputs = tokenizer(texts, pairs, max_length=max_length, pad_to_max_length=True)
    return inputs, np.array(label_ids(examples, labels, source), "int32")


def encode_classification_windows(tokenizer, examples, labels, max_length, doc_stride,
                                  source="data"):
    """`encode_classification` with long texts cut into windows `doc_stride` pieces apart
    (`tfbert.tokenization.windows`), each window a row carrying its text's label.

    Returns `(inputs, label ids, document_index)`: rows `(windows, max_length)`, the label
    of each window's text, and the example each window comes from."""
    from tfbert.tokenization.windows import window_arrays

    pairs = [e.pair for e in examples] if examples and examples[0].pair is not None else None
    inputs, document = window_arrays(tokenizer, [e.text for e in examples], pairs, max_length,
                                     doc_stride)
    ids = np.array(label_ids(examples, labels, source), "int32")
    return inputs, ids[document] if len(ids) else ids, document


def encode_ner(tokenizer, sentences, labels, max_length, source="data", stride=None):
    """`sentences`: `[(words, tags)]`; `tags` may be `None` (prediction input).

    A sentence longer than `max_length - 2` pieces is cut, between words, into windows, each
    a row of its own, so no word is lost to the length limit (a single word of more pieces
    than a window keeps its first pieces). A window starts at the first word at least
    `stride` pieces after the previous window's start (default and at most: the window's
    room, so windows follow each other without overlap). When windows overlap, each word
    is labelled and read in one of them only: the one where it has the most context on
    its narrower side (the rule of google-research/bert's `_check_is_max_context`).

    Returns `(inputs, label ids, word_index, sentence_index)`: rows of `(max_length,)`;
    `word_index` gives, at the first piece of each word the row labels, the word's index in
    its sentence (-1 elsewhere) and `sentence_index` each row's sentence, mapping
    predictions back to words. A word with no pieces (only characters the tokenizer drops)
    has no position.
    """
    room = max_length - 2
    if room < 1:
        raise ValueError(f"max_length must leave room for the special tokens. "
                         f"Received: max_length={max_length}")
    stride = room if stride is None else min(stride, room)
    if stride < 1:
        raise ValueError(f"stride must be positive. Received: stride={stride}")
    index = {label: i for i, label in enumerate(labels)}
    words = [w for ws, _ in sentences for w in ws]
    pieces = tokenizer.tokenize(tf.constant(words)).to_list() if words else []
    rows = []  # (ids, labels, word positions, sentence)
    cursor = 0
    for number, (ws, tags) in enumerate(sentences):
        for tag in tags or ():
            if tag not in index:
                raise ValueError(f"{source}: sentence {number + 1}: tag {tag!r} is not one of "
                                 f"the model's labels {list(labels)}")
        # The sentence's words that have pieces: (position, pieces), and where each starts.
        kept = [(position, word_pieces[:room]) for position, word_pieces
                in enumerate(pieces[cursor:cursor + len(ws)]) if word_pieces]
        cursor += len(ws)
        if not kept:
            rows.append(([], [], [], number))
            continue
        starts = np.cumsum([0] + [len(p) for _, p in kept])
        windows = []  # (first word, end word) over `kept`
        first = 0
        while True:
            end = first + 1
            while end < len(kept) and starts[end + 1] - starts[first] <= room:
                end += 1
            # A window ending where the last one ends is inside it with less context on
            # the left of every word, so it would own none: skip it.
            if not windows or end > windows[-1][1]:
                windows.append((first, end))
            if end >= len(kept):
                break
            following = int(np.searchsorted(starts, starts[first] + stride))
            first = min(max(following, first + 1), end)
        # Each word's window: the most context on its narrower side (then the longer window).
        owner = np.zeros(len(kept), "int64")
        best = np.full(len(kept), -np.inf)
        for w, (a, b) in enumerate(windows):
            span = np.arange(a, b)
            score = np.minimum(starts[span] - starts[a], starts[b] - starts[span + 1]) \
                + 0.01 * (starts[b] - starts[a])
            better = score > best[span]
            owner[span[better]], best[span[better]] = w, score[better]
        for w, (a, b) in enumerate(windows):
            ids, row_labels, row_words = [], [], []
            for k in range(a, b):
                position, word_pieces = kept[k]
                mine = owner[k] == w
                ids += word_pieces
                row_labels += [index[tags[position]] if tags is not None and mine else IGNORE] \
                    + [IGNORE] * (len(word_pieces) - 1)
                row_words += [position if mine else -1] + [-1] * (len(word_pieces) - 1)
            rows.append((ids, row_labels, row_words, number))
    shape = (len(rows), max_length)
    token_ids = np.full(shape, tokenizer.pad_id, "int32")
    label_array = np.full(shape, IGNORE, "int32")
    word_index = np.full(shape, -1, "int32")
    padding_mask = np.zeros(shape, "int32")
    for row, (ids, row_labels, row_words, _) in enumerate(rows):
        n = len(ids) + 2
        token_ids[row, :n] = [tokenizer.cls_id] + ids + [tokenizer.sep_id]
        label_array[row, 1:n - 1] = row_labels
        word_index[row, 1:n - 1] = row_words
        padding_mask[row, :n] = 1
    inputs = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
              "padding_mask": padding_mask}
    sentence_index = np.array([r[3] for r in rows], "int32")
    return inputs, label_array, word_index, sentence_index


def encode_qa(tokenizer, examples, max_length=384, doc_stride=128, max_query_length=64):
    """Question + context windows for span QA (google-research/bert's recipe).

    The question is cut to `max_query_length` pieces; the context is cut into windows
    that start every `doc_stride` pieces and fill the rest of `max_length`. Each window is
    `[CLS] question [SEP] context-part [SEP]`. Its target is the first answer's piece span
    when the whole answer lies inside the window, else `(0, 0)` (the `[CLS]` position, as
    for SQuAD v2's unanswerable questions).

    Returns `(inputs, targets, windows)`: `inputs` the encoder's three arrays
    `(n_windows, max_length)`; `targets` `start_positions`/`end_positions`; `windows` a
    dict with `example_index` `(n_windows,)` and `char_spans` `(n_windows, max_length, 2)`,
    the character range in the context of each context piece (-1 elsewhere), which maps a
    predicted span back to text.
    """
    if doc_stride < 1:
        raise ValueError(f"doc_stride must be positive. Received: doc_stride={doc_stride}")
    questions = tokenizer.tokenize(tf.constant([e.question for e in examples])).to_list()
    ids, starts, ends = tokenizer.tokenize_with_offsets(tf.constant([e.context for e in examples]))
    ids, starts, ends = ids.to_list(), starts.to_list(), ends.to_list()
    rows = {k: [] for k in ("token_ids", "segment_ids", "padding_mask", "start_positions",
                            "end_positions", "example_index", "char_spans")}
    for index, example in enumerate(examples):
        query = questions[index][:max_query_length]
        room = max_length - len(query) - 3
        if room < 1:
            raise ValueError(f"max_length={max_length} leaves no room for the context after a "
                             f"{len(query)}-piece question; raise max_length or lower "
                             "max_query_length")
        answer = None
        if example.answers and not example.is_impossible:
            text, char_start = example.answers[0]
            char_end = char_start + len(text)
            covering = [i for i, (s, e) in enumerate(zip(starts[index], ends[index]))
                        if s < char_end and e > char_start]
            if covering:
                answer = (covering[0], covering[-1])
        offset = 0
        while True:
            window = range(offset, min(offset + room, len(ids[index])))
            token_ids = [tokenizer.cls_id] + query + [tokenizer.sep_id] + \
                [ids[index][i] for i in window] + [tokenizer.sep_id]
            first_context = len(query) + 2
            spans = np.full((max_length, 2), -1, "int32")
            for k, i in enumerate(window):
                spans[first_context + k] = (starts[index][i], ends[index][i])
            start = end = 0
            if answer and window and window[0] <= answer[0] and answer[1] <= window[-1]:
                start, end = (first_context + answer[0] - offset,
                              first_context + answer[1] - offset)
            n = len(token_ids)
            rows["token_ids"].append(token_ids + [tokenizer.pad_id] * (max_length - n))
            rows["segment_ids"].append([0] * first_context + [1] * (n - first_context)
                                       + [0] * (max_length - n))
            rows["padding_mask"].append([1] * n + [0] * (max_length - n))
            rows["start_positions"].append(start)
            rows["end_positions"].append(end)
            rows["example_index"].append(index)
            rows["char_spans"].append(spans)
            if offset + room >= len(ids[index]):
                break
            offset += min(doc_stride, room)  # a stride past the window would skip pieces
    arrays = {k: np.asarray(v, "int32") for k, v in rows.items()}
    inputs = {k: arrays[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    targets = {k: arrays[k] for k in ("start_positions", "end_positions")}
    windows = {k: arrays[k] for k in ("example_index", "char_spans")}
    return inputs, targets, windows


def span_text(context, char_spans, start, end):
    """The answer text and its character range for a predicted piece span of a window."""
    first, last = char_spans[start], char_spans[end]
    if first[0] < 0 or last[0] < 0 or end < start:
        return "", -1, -1
    return context[first[0]:last[1]], int(first[0]), int(last[1])
